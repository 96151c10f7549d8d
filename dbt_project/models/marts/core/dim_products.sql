with

products as (

    select * from {{ ref('stg_ecom__products') }}

),

final as (

    select
        product_id,
        seller_id,
        category,
        product_name,
        list_price,
        listed_at,
        listed_at::date as listed_date
    from products

)

select * from final
