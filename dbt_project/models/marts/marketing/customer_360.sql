-- One row per customer as of the last loaded day: value (RFM), channel mix and online–offline behaviour,
-- browsing and cart abandonment (last 90 days), returns and reviews. RFM: recency, frequency and monetary value
-- of every customer who ordered, scored 1–5 against all ordering customers (5 = most recent / most frequent /
-- highest value), and the segment marketing acts on; ties in a measure are broken by customer_id so the scores
-- are deterministic.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

reviews as (

    select * from {{ ref('fct_reviews') }}

),

last_day as (

    select {{ last_loaded_date() }} as last_loaded_date

),

per_customer as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as frequency,
        sum(order_total) as monetary
    from orders
    group by customer_id

),

scored as (

    select
        per_customer.*,
        last_day.last_loaded_date - per_customer.last_order_date as recency_days,
        ntile(5) over (order by per_customer.last_order_date, per_customer.customer_id) as r_score,
        ntile(5) over (order by per_customer.frequency, per_customer.customer_id) as f_score,
        ntile(5) over (order by per_customer.monetary, per_customer.customer_id) as m_score
    from per_customer
    cross join last_day

),

rfm as (

    select
        *,
        case
            when r_score >= 4 and f_score >= 4 then 'champion'
            when r_score >= 4 and f_score <= 2 then 'promising'
            when r_score <= 2 and f_score >= 4 then 'at_risk'
            when r_score <= 2 and f_score <= 2 then 'hibernating'
            else 'needs_attention'
        end as rfm_segment
    from scored

),

channel_mix as (

    select
        customer_id,
        count(*) filter (where channel = 'web') as web_orders,
        count(*) filter (where channel = 'app') as app_orders,
        count(*) filter (where channel = 'social') as social_orders,
        count(*) filter (where channel = 'store') as store_orders
    from orders
    group by customer_id

),

browsing as (

    select
        sessions.customer_id,
        count(*) as sessions_90d,
        sum(sessions.page_views)::bigint as page_views_90d,
        count(*) filter (where sessions.add_to_carts > 0) as cart_sessions_90d,
        count(*) filter (where sessions.add_to_carts > 0 and sessions.checkouts = 0) as abandoned_cart_sessions_90d
    from sessions
    cross join last_day
    where sessions.customer_id is not null
        and sessions.session_date > last_day.last_loaded_date - 90
    group by sessions.customer_id

),

returns as (

    select
        customer_id,
        count(*) as order_lines,
        count(*) filter (where is_returned) as returned_lines
    from order_items
    group by customer_id

),

review_behaviour as (

    select
        customer_id,
        count(*) as reviews,
        avg(rating)::double precision as avg_rating,
        count(*) filter (where is_negative) as negative_reviews
    from reviews
    group by customer_id

),

final as (

    select
        customers.customer_id,
        customers.signup_date,
        customers.signup_channel,
        customers.region,
        customers.is_marketing_opt_in,
        rfm.first_order_date,
        rfm.last_order_date,
        rfm.recency_days,
        coalesce(rfm.frequency, 0) as frequency,
        coalesce(rfm.monetary, 0) as monetary,
        rfm.monetary / nullif(rfm.frequency, 0) as avg_order_value,
        rfm.r_score,
        rfm.f_score,
        rfm.m_score,
        coalesce(rfm.rfm_segment, 'never_ordered') as rfm_segment,
        coalesce(channel_mix.web_orders, 0) as web_orders,
        coalesce(channel_mix.app_orders, 0) as app_orders,
        coalesce(channel_mix.social_orders, 0) as social_orders,
        coalesce(channel_mix.store_orders, 0) as store_orders,
        (1 - channel_mix.store_orders::double precision / nullif(rfm.frequency, 0)) as online_order_share,
        coalesce(channel_mix.store_orders > 0 and channel_mix.store_orders < rfm.frequency, false) as is_omnichannel,
        coalesce(browsing.sessions_90d, 0) as sessions_90d,
        coalesce(browsing.page_views_90d, 0) as page_views_90d,
        browsing.abandoned_cart_sessions_90d::double precision
        / nullif(browsing.cart_sessions_90d, 0) as cart_abandonment_rate_90d,
        returns.returned_lines::double precision / nullif(returns.order_lines, 0) as return_rate,
        coalesce(review_behaviour.reviews, 0) as reviews,
        review_behaviour.avg_rating,
        coalesce(review_behaviour.negative_reviews, 0) as negative_reviews
    from customers
    left join rfm on customers.customer_id = rfm.customer_id
    left join channel_mix on customers.customer_id = channel_mix.customer_id
    left join browsing on customers.customer_id = browsing.customer_id
    left join returns on customers.customer_id = returns.customer_id
    left join review_behaviour on customers.customer_id = review_behaviour.customer_id

)

select * from final
