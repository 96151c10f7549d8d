{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    unique_key=['order_id', 'line_number'],
    on_schema_change='fail',
    indexes=[{'columns': ['order_id', 'line_number'], 'unique': true}, {'columns': ['changed_date']}]
) }}
-- One row per order line, with its order's customer, channel and day, and whether (and how much) was returned.
-- Incremental on changed_date (macros/incremental_days.sql): the latest landing day of the line, its order and
-- its returns (a return processed weeks later changes the line on the day it lands).
with

order_items as (

    select * from {{ ref('stg_ecom__order_items') }}

),

orders as (

    select * from {{ ref('stg_ecom__orders') }}

),

returns as (

    select * from {{ ref('stg_ecom__returns') }}

),

returned_lines as (

    select
        order_id,
        line_number,
        min(returned_at) as returned_at,
        sum(refund_amount) as refund_amount,
        max(known_date) as returns_known_date
    from returns
    group by order_id, line_number

),

final as (

    select
        order_items.order_id,
        order_items.line_number,
        order_items.product_id,
        order_items.seller_id,
        orders.customer_id,
        orders.channel,
        orders.ordered_at::date as order_date,
        order_items.quantity,
        order_items.unit_price,
        order_items.discount,
        order_items.quantity * (order_items.unit_price - order_items.discount) as line_amount,
        returned_lines.order_id is not null as is_returned,
        returned_lines.returned_at,
        coalesce(returned_lines.refund_amount, 0) as refund_amount,
        order_items.known_date,
        greatest(order_items.known_date, orders.known_date, returned_lines.returns_known_date) as changed_date
    from order_items
    inner join orders on order_items.order_id = orders.order_id
    left join returned_lines
        on order_items.order_id = returned_lines.order_id
        and order_items.line_number = returned_lines.line_number

)

select * from final
{% if is_incremental() -%}
    where {{ in_run_days(['order_id', 'line_number']) }}
{%- endif %}
