{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    unique_key='order_id',
    on_schema_change='fail',
    indexes=[{'columns': ['order_id'], 'unique': true}, {'columns': ['changed_date']}]
) }}
-- One row per order with its line totals; incremental on changed_date (macros/incremental_days.sql): the
-- latest landing day of the order and its lines.
with

orders as (

    select * from {{ ref('stg_ecom__orders') }}

),

order_items as (

    select * from {{ ref('stg_ecom__order_items') }}

),

order_totals as (

    select
        order_id,
        count(*) as line_count,
        sum(quantity * unit_price) as items_amount,
        sum(quantity * discount) as discount_amount,
        max(known_date) as lines_known_date
    from order_items
    group by order_id

),

final as (

    select
        orders.order_id,
        orders.customer_id,
        orders.channel,
        orders.ordered_at,
        orders.ordered_at::date as order_date,
        orders.promo_code is not null as is_promo,
        coalesce(order_totals.line_count, 0) as line_count,
        coalesce(order_totals.items_amount, 0) as items_amount,
        coalesce(order_totals.discount_amount, 0) as discount_amount,
        orders.shipping_fee,
        coalesce(order_totals.items_amount, 0) + orders.shipping_fee as order_total,
        orders.known_date,
        greatest(orders.known_date, order_totals.lines_known_date) as changed_date
    from orders
    left join order_totals on orders.order_id = order_totals.order_id

)

select * from final
{% if is_incremental() -%}
    where {{ in_run_days('order_id') }}
{%- endif %}
