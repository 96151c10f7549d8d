{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    unique_key='event_id',
    on_schema_change='fail',
    indexes=[{'columns': ['event_id'], 'unique': true}, {'columns': ['changed_date']}]
) }}
-- One row per session event with its session's channel; incremental on changed_date
-- (macros/incremental_days.sql): the latest landing day of the event and its session.
with

events as (

    select * from {{ ref('stg_ecom__events') }}

),

sessions as (

    select * from {{ ref('stg_ecom__sessions') }}

),

final as (

    select
        events.event_id,
        events.session_id,
        events.customer_id,
        sessions.channel,
        events.event_type,
        events.product_id,
        events.event_at,
        events.event_at::date as event_date,
        events.known_date,
        greatest(events.known_date, sessions.known_date) as changed_date
    from events
    left join sessions on events.session_id = sessions.session_id

)

select * from final
{% if is_incremental() -%}
    where {{ in_run_days('event_id') }}
{%- endif %}
