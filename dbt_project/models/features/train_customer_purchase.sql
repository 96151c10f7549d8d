-- Features as of D joined with the label: did the customer order in [D, D + window)? Closed windows only.
-- Each order day O labels the as-of dates (O - window, O]: expanding orders (few) instead of probing orders
-- once per feature row (many) keeps this a hash join.
with

features as (

    select * from {{ ref('feat_customer_daily') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

last_day as (

    select {{ last_loaded_date(calendar=true) }} as last_loaded_date

),

order_days as (

    select distinct
        customer_id,
        order_date
    from orders

),

labelled_as_of_dates as (

    select distinct
        customer_id,
        generate_series(
            order_date - ({{ var('propensity_window_days') }}::int - 1), order_date, interval '1 day'
        )::date as as_of_date
    from order_days

),

final as (

    select
        features.*,
        (labelled_as_of_dates.customer_id is not null)::int as label
    from features
    cross join last_day
    left join labelled_as_of_dates
        on features.customer_id = labelled_as_of_dates.customer_id
        and features.as_of_date = labelled_as_of_dates.as_of_date
    where features.as_of_date + {{ var('propensity_window_days') }}::int - 1 <= last_day.last_loaded_date

)

select * from final
