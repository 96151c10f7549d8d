{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    unique_key='session_id',
    on_schema_change='fail',
    indexes=[{'columns': ['session_id'], 'unique': true}, {'columns': ['changed_date']}]
) }}
-- One row per session with its event counts; incremental on changed_date (macros/incremental_days.sql): the
-- latest landing day of the session and its events.
with

sessions as (

    select * from {{ ref('stg_ecom__sessions') }}

),

events as (

    select * from {{ ref('stg_ecom__events') }}

),

event_counts as (

    select
        session_id,
        count(*) filter (where event_type = 'page_view') as page_views,
        count(*) filter (where event_type = 'search') as searches,
        count(*) filter (where event_type = 'add_to_cart') as add_to_carts,
        count(*) filter (where event_type = 'wishlist') as wishlists,
        count(*) filter (where event_type = 'checkout') as checkouts,
        max(known_date) as events_known_date
    from events
    group by session_id

),

final as (

    select
        sessions.session_id,
        sessions.customer_id,
        sessions.channel,
        sessions.device,
        sessions.started_at,
        sessions.started_at::date as session_date,
        sessions.ended_at,
        coalesce(event_counts.page_views, 0) as page_views,
        coalesce(event_counts.searches, 0) as searches,
        coalesce(event_counts.add_to_carts, 0) as add_to_carts,
        coalesce(event_counts.wishlists, 0) as wishlists,
        coalesce(event_counts.checkouts, 0) as checkouts,
        sessions.known_date,
        greatest(sessions.known_date, event_counts.events_known_date) as changed_date
    from sessions
    left join event_counts on sessions.session_id = event_counts.session_id

)

select * from final
{% if is_incremental() -%}
    where {{ in_run_days('session_id') }}
{%- endif %}
