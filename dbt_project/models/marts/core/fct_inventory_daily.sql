with

inventory as (

    select * from {{ ref('stg_ecom__inventory') }}

),

final as (

    select
        snapshot_date,
        product_id,
        seller_id,
        on_hand,
        reorder_point,
        on_hand = 0 as is_out_of_stock,
        on_hand <= reorder_point as is_below_reorder_point,
        known_date
    from inventory

)

select * from final
