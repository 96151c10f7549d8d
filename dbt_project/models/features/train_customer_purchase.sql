-- Features as of D joined with the label: did the customer order in [D, D + window)? Closed windows only.
with

features as (

    select * from {{ ref('feat_customer_daily') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

last_day as (

    select max(_partition_date) as last_loaded_date from {{ source('ecom', 'orders') }}

),

final as (

    select
        features.*,
        case when exists (
            select 1 from orders
            where orders.customer_id = features.customer_id
                and orders.order_date >= features.as_of_date
                and orders.order_date < features.as_of_date + {{ var('propensity_window_days') }}::int
        ) then 1 else 0 end as label
    from features
    cross join last_day
    where features.as_of_date + {{ var('propensity_window_days') }}::int - 1 <= last_day.last_loaded_date

)

select * from final
