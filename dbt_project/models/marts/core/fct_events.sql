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
        events.known_date
    from events
    left join sessions on events.session_id = sessions.session_id

)

select * from final
