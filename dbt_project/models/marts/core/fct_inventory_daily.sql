{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    unique_key=['snapshot_date', 'product_id'],
    on_schema_change='fail',
    indexes=[{'columns': ['snapshot_date', 'product_id'], 'unique': true}, {'columns': ['changed_date']}]
) }}
-- One row per product per snapshot day; incremental on changed_date (macros/incremental_days.sql), here the
-- day the snapshot landed.
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
        known_date,
        known_date as changed_date
    from inventory

)

select * from final
{% if is_incremental() -%}
    where {{ in_run_days(['snapshot_date', 'product_id']) }}
{%- endif %}
