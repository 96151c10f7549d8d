-- Every order line with its seller, its order's day and the day both the line and its order were known (the
-- later landing day of the two): what point-in-time features count sales and returns on.
with

order_items as (

    select * from {{ ref('stg_ecom__order_items') }}

),

orders as (

    select * from {{ ref('stg_ecom__orders') }}

),

final as (

    select
        order_items.seller_id,
        orders.ordered_at::date as order_date,
        greatest(orders.known_date, order_items.known_date) as known_date,
        order_items.order_id,
        order_items.line_number,
        order_items.quantity * order_items.unit_price as amount
    from order_items
    inner join orders on order_items.order_id = orders.order_id

)

select * from final
