{{ config(
    materialized='incremental',
    incremental_strategy='delete+insert',
    unique_key=['as_of_date', 'customer_id'],
    indexes=[{'columns': ['as_of_date', 'customer_id'], 'unique': true}],
    on_schema_change='fail',
    contract={'enforced': true}
) }}
-- One row per customer per as-of date D, from rows both dated and known (landed) strictly before D.
-- Activity is bucketed by its knowledge day (greatest of event day and landing day), so a late-arriving row
-- never reaches an as-of date before it landed; windows are row frames over a dense customer × day spine.
with

customers as (

    select * from {{ ref('dim_customers') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

sessions as (

    select * from {{ ref('fct_sessions') }}

),

bounds as (

    select
        {{ as_of_from() }} as as_of_from,
        {{ as_of_to() }} as as_of_to

),

days as (

    select generate_series(as_of_from - 91, as_of_to, interval '1 day')::date as activity_date
    from bounds

),

order_days as (

    select
        customer_id,
        greatest(order_date, known_date) as activity_date,
        count(*) as orders,
        sum(order_total) as revenue,
        count(*) filter (where channel = 'store') as store_orders,
        count(*) filter (where is_promo) as promo_orders
    from orders
    group by 1, 2

),

session_days as (

    select
        customer_id,
        greatest(session_date, known_date) as activity_date,
        count(*) as sessions,
        count(*) filter (where channel = 'app') as app_sessions,
        sum(add_to_carts) as add_to_carts,
        sum(searches) as searches,
        sum(wishlists) as wishlists,
        count(*) filter (where add_to_carts > 0 and checkouts = 0) as abandoned_carts
    from sessions
    where customer_id is not null
    group by 1, 2

),

spine as (

    select
        customers.customer_id,
        customers.signup_date,
        customers.signup_channel,
        customers.region,
        customers.age_band,
        days.activity_date
    from customers
    cross join days
    where customers.signup_date < days.activity_date

),

daily as (

    select
        spine.*,
        coalesce(order_days.orders, 0) as orders,
        coalesce(order_days.revenue, 0) as revenue,
        coalesce(order_days.store_orders, 0) as store_orders,
        coalesce(order_days.promo_orders, 0) as promo_orders,
        coalesce(session_days.sessions, 0) as sessions,
        coalesce(session_days.app_sessions, 0) as app_sessions,
        coalesce(session_days.add_to_carts, 0) as add_to_carts,
        coalesce(session_days.searches, 0) as searches,
        coalesce(session_days.wishlists, 0) as wishlists,
        coalesce(session_days.abandoned_carts, 0) as abandoned_carts
    from spine
    left join order_days
        on spine.customer_id = order_days.customer_id and spine.activity_date = order_days.activity_date
    left join session_days
        on spine.customer_id = session_days.customer_id and spine.activity_date = session_days.activity_date

),

windowed as (

    select
        customer_id,
        activity_date as as_of_date,
        signup_channel,
        region,
        age_band,
        (activity_date - signup_date)::double precision as days_since_signup,
        (sum(orders) over w7)::double precision as orders_7d,
        (sum(orders) over w30)::double precision as orders_30d,
        (sum(orders) over w90)::double precision as orders_90d,
        (sum(revenue) over w30)::double precision as revenue_30d,
        (sum(revenue) over w90)::double precision as revenue_90d,
        (sum(store_orders) over w90)::double precision as store_orders_90d,
        (sum(promo_orders) over w90)::double precision as promo_orders_90d,
        (sum(sessions) over w7)::double precision as sessions_7d,
        (sum(sessions) over w30)::double precision as sessions_30d,
        (sum(app_sessions) over w30)::double precision as app_sessions_30d,
        (sum(add_to_carts) over w7)::double precision as add_to_cart_7d,
        (sum(add_to_carts) over w30)::double precision as add_to_cart_30d,
        (sum(searches) over w7)::double precision as searches_7d,
        (sum(wishlists) over w30)::double precision as wishlist_30d,
        (sum(abandoned_carts) over w30)::double precision as cart_abandon_30d
    from daily
    window
        w7 as (partition by customer_id order by activity_date rows between 7 preceding and 1 preceding),
        w30 as (partition by customer_id order by activity_date rows between 30 preceding and 1 preceding),
        w90 as (partition by customer_id order by activity_date rows between 90 preceding and 1 preceding)

),

last_orders as (

    -- From all order history, not the window frames: the spine only reaches 91 days before the first
    -- as-of date, and a one-day run must give what a full rebuild gives.
    select
        windowed.customer_id,
        windowed.as_of_date,
        max(order_days.activity_date) as last_order_date
    from windowed
    cross join bounds
    inner join order_days
        on windowed.customer_id = order_days.customer_id
        and order_days.activity_date < windowed.as_of_date
    where windowed.as_of_date between bounds.as_of_from and bounds.as_of_to
    group by 1, 2

),

final as (

    select
        windowed.customer_id,
        windowed.as_of_date,
        windowed.signup_channel,
        windowed.region,
        windowed.age_band,
        windowed.days_since_signup,
        (windowed.as_of_date - last_orders.last_order_date)::double precision as days_since_last_order,
        coalesce(windowed.orders_7d, 0) as orders_7d,
        coalesce(windowed.orders_30d, 0) as orders_30d,
        coalesce(windowed.orders_90d, 0) as orders_90d,
        coalesce(windowed.revenue_30d, 0) as revenue_30d,
        coalesce(windowed.revenue_90d, 0) as revenue_90d,
        case when windowed.orders_90d > 0 then windowed.revenue_90d / windowed.orders_90d end
            as avg_order_value_90d,
        case when windowed.orders_90d > 0 then windowed.store_orders_90d / windowed.orders_90d end
            as share_store_orders_90d,
        case when windowed.orders_90d > 0 then windowed.promo_orders_90d / windowed.orders_90d end
            as promo_share_90d,
        coalesce(windowed.sessions_7d, 0) as sessions_7d,
        coalesce(windowed.sessions_30d, 0) as sessions_30d,
        case when windowed.sessions_30d > 0 then windowed.app_sessions_30d / windowed.sessions_30d end
            as share_app_sessions_30d,
        coalesce(windowed.add_to_cart_7d, 0) as add_to_cart_7d,
        coalesce(windowed.add_to_cart_30d, 0) as add_to_cart_30d,
        coalesce(windowed.searches_7d, 0) as searches_7d,
        coalesce(windowed.wishlist_30d, 0) as wishlist_30d,
        coalesce(windowed.cart_abandon_30d, 0) as cart_abandon_30d
    from windowed
    cross join bounds
    left join last_orders
        on windowed.customer_id = last_orders.customer_id and windowed.as_of_date = last_orders.as_of_date
    where windowed.as_of_date between bounds.as_of_from and bounds.as_of_to

)

select * from final
