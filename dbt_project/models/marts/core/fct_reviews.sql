{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    unique_key='review_id',
    on_schema_change='fail',
    indexes=[{'columns': ['review_id'], 'unique': true}, {'columns': ['changed_date']}]
) }}
-- One row per review with the seller of the reviewed line; incremental on changed_date
-- (macros/incremental_days.sql): the latest landing day of the review and the order lines it matches.
with

reviews as (

    select * from {{ ref('stg_ecom__reviews') }}

),

order_items as (

    select
        order_id,
        product_id,
        seller_id,
        max(known_date) as lines_known_date
    from {{ ref('stg_ecom__order_items') }}
    group by order_id, product_id, seller_id

),

final as (

    select
        reviews.review_id,
        reviews.order_id,
        reviews.product_id,
        order_items.seller_id,
        reviews.customer_id,
        reviews.rating,
        reviews.rating <= 2 as is_negative,
        reviews.review_text,
        reviews.reviewed_at,
        reviews.reviewed_at::date as review_date,
        reviews.known_date,
        greatest(reviews.known_date, order_items.lines_known_date) as changed_date
    from reviews
    left join order_items
        on reviews.order_id = order_items.order_id
        and reviews.product_id = order_items.product_id

)

select * from final
{% if is_incremental() -%}
    where {{ in_run_days('review_id') }}
{%- endif %}
