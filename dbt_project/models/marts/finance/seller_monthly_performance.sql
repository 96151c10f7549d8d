-- One row per seller per month with sales: GMV and its growth, returns, review score, late deliveries and
-- inventory turnover — how the finance team reads a borrower's health.
with

sellers as (

    select * from {{ ref('dim_sellers') }}

),

order_items as (

    select * from {{ ref('fct_order_items') }}

),

reviews as (

    select * from {{ ref('fct_reviews') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

inventory as (

    select * from {{ ref('fct_inventory_daily') }}

),

sales as (

    select
        seller_id,
        date_trunc('month', order_date)::date as month_start_date,
        count(distinct order_id) as orders,
        sum(quantity) as units_sold,
        sum(line_amount) as gmv,
        count(*) filter (where is_returned)::double precision / count(*) as return_rate
    from order_items
    group by 1, 2

),

review_scores as (

    select
        seller_id,
        date_trunc('month', review_date)::date as month_start_date,
        avg(rating)::double precision as avg_rating,
        count(*) as reviews
    from reviews
    where seller_id is not null
    group by 1, 2

),

deliveries as (

    select
        seller_id,
        date_trunc('month', ship_date)::date as month_start_date,
        count(*) as shipments,
        avg(is_late::int)::double precision as late_delivery_rate
    from shipments
    group by 1, 2

),

stock as (

    select
        seller_id,
        date_trunc('month', snapshot_date)::date as month_start_date,
        avg(on_hand)::double precision as avg_units_on_hand
    from (
        select
            seller_id,
            snapshot_date,
            sum(on_hand) as on_hand
        from inventory
        group by 1, 2
    ) as daily
    group by 1, 2

),

final as (

    select
        sales.seller_id,
        sales.month_start_date,
        sellers.size_band,
        sellers.category,
        sellers.region,
        sales.orders,
        sales.units_sold::bigint as units_sold,
        sales.gmv,
        case
            when lag(sales.month_start_date) over by_seller = (sales.month_start_date - interval '1 month')::date
                then sales.gmv / nullif(lag(sales.gmv) over by_seller, 0) - 1
        end as gmv_growth_mom,
        sales.return_rate,
        review_scores.avg_rating,
        coalesce(review_scores.reviews, 0) as reviews,
        deliveries.late_delivery_rate,
        coalesce(deliveries.shipments, 0) as shipments,
        sales.units_sold / nullif(stock.avg_units_on_hand, 0) as inventory_turnover
    from sales
    inner join sellers on sales.seller_id = sellers.seller_id
    left join review_scores
        on sales.seller_id = review_scores.seller_id and sales.month_start_date = review_scores.month_start_date
    left join deliveries
        on sales.seller_id = deliveries.seller_id and sales.month_start_date = deliveries.month_start_date
    left join stock on sales.seller_id = stock.seller_id and sales.month_start_date = stock.month_start_date
    window by_seller as (partition by sales.seller_id order by sales.month_start_date)

)

select * from final
