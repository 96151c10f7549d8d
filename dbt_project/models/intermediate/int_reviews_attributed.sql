-- Every review of a listed product, with the seller of the product.
with

reviews as (

    select * from {{ ref('stg_ecom__reviews') }}

),

products as (

    select * from {{ ref('stg_ecom__products') }}

),

final as (

    select
        products.seller_id,
        reviews.review_id,
        reviews.product_id,
        reviews.rating,
        reviews.reviewed_at,
        reviews.known_date
    from reviews
    inner join products on reviews.product_id = products.product_id

)

select * from final
