-- One row per customer scored on the latest as-of date: purchase-propensity decile, RFM segment, the channel they
-- respond to and their marketing consent — what a campaign tool imports (export the rows with consent).
-- The channel is where the customer acts: the channel of most orders, else of most sessions, else of sign-up;
-- ties go to the most recent. Social-commerce orders and sessions count as web (they check out in the web shop).
with

scores as (

    select * from {{ source('scores', 'customer_purchase_propensity') }}

),

customers as (

    select * from {{ ref('customer_360') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

latest_scores as (

    {{ latest_as_of('scores') }}

),

activity as (

    select
        customer_id,
        channel,
        1 as basis_rank,
        count(*) as events,
        max(order_date) as last_date
    from orders
    group by 1, 2

    union all

    select
        customer_id,
        channel,
        2 as basis_rank,
        count(*) as events,
        max(session_date) as last_date
    from sessions
    where customer_id is not null
    group by 1, 2

    union all

    select
        customer_id,
        signup_channel as channel,
        3 as basis_rank,
        1 as events,
        signup_date as last_date
    from customers

),

channel_activity as (

    select
        customer_id,
        basis_rank,
        case when channel = 'social' then 'web' else channel end as response_channel,
        sum(events) as events,
        max(last_date) as last_date
    from activity
    group by 1, 2, 3

),

ranked_channels as (

    select
        customer_id,
        response_channel,
        case basis_rank when 1 then 'orders' when 2 then 'sessions' else 'signup' end as channel_basis,
        row_number() over (
            partition by customer_id
            order by basis_rank asc, events desc, last_date desc, response_channel asc
        ) as channel_rank
    from channel_activity

),

final as (

    select
        latest_scores.customer_id,
        latest_scores.as_of_date,
        latest_scores.score as propensity_score,
        latest_scores.decile as propensity_decile,
        customers.rfm_segment,
        ranked_channels.response_channel,
        ranked_channels.channel_basis,
        coalesce(customers.is_marketing_opt_in, false) as has_marketing_consent,
        'd' || lpad(latest_scores.decile::text, 2, '0') || '_' || customers.rfm_segment
        || '_' || ranked_channels.response_channel as audience_key,
        customers.region,
        customers.recency_days,
        customers.frequency,
        customers.monetary,
        latest_scores.reason_1,
        latest_scores.reason_2,
        latest_scores.reason_3,
        latest_scores.model_name,
        latest_scores.model_version,
        latest_scores.scored_at
    from latest_scores
    inner join customers on latest_scores.customer_id = customers.customer_id
    inner join ranked_channels
        on latest_scores.customer_id = ranked_channels.customer_id
        and ranked_channels.channel_rank = 1

)

select * from final
