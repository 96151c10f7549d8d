{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    unique_key='shipment_id',
    on_schema_change='fail',
    indexes=[{'columns': ['shipment_id'], 'unique': true}, {'columns': ['changed_date']}]
) }}
-- One row per shipment: promised against delivered. An undelivered shipment is late once its promise passed
-- the last day the warehouse knows of. Incremental on changed_date (macros/incremental_days.sql): the day the
-- shipment landed, or for one still undelivered the last loaded day, as its lateness is re-judged every day.
with

shipments as (

    select * from {{ ref('stg_ecom__shipments') }}

),

last_day as (

    select {{ last_loaded_date() }} as last_loaded_date

),

final as (

    select
        shipments.shipment_id,
        shipments.order_id,
        shipments.seller_id,
        shipments.carrier,
        shipments.shipped_at,
        shipments.promised_at,
        shipments.delivered_at,
        shipments.shipped_at::date as ship_date,
        shipments.delivered_at is not null as is_delivered,
        coalesce(
            shipments.delivered_at > shipments.promised_at,
            shipments.promised_at::date < last_day.last_loaded_date
        ) as is_late,
        (extract(epoch from shipments.delivered_at - shipments.shipped_at) / 86400.0)::double precision
            as delivery_days,
        shipments.known_date,
        case
            when shipments.delivered_at is null then greatest(shipments.known_date, last_day.last_loaded_date)
            else shipments.known_date
        end as changed_date
    from shipments
    cross join last_day

)

select * from final
{% if is_incremental() -%}
    where {{ in_run_days('shipment_id') }}
{%- endif %}
