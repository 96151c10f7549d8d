with

reviews as (

    select * from {{ ref('stg_ecom__reviews') }}

),

order_items as (

    select distinct
        order_id,
        product_id,
        seller_id
    from {{ ref('stg_ecom__order_items') }}

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
        reviews.known_date
    from reviews
    left join order_items
        on reviews.order_id = order_items.order_id
        and reviews.product_id = order_items.product_id

)

select * from final
