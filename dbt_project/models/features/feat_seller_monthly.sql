{{ config(contract={'enforced': true}) }}
-- One row per seller per month start M, from rows both dated and known (landed) strictly before M:
-- a repayment booked after M does not count as paid at M, so days past due are what we knew then.
with

sellers as (

    select * from {{ ref('dim_sellers') }}

),

order_items as (

    select * from {{ ref('stg_ecom__order_items') }}

),

orders as (

    select * from {{ ref('fct_orders') }}

),

shipments as (

    select * from {{ ref('stg_ecom__shipments') }}

),

returns as (

    select * from {{ ref('stg_ecom__returns') }}

),

reviews as (

    select * from {{ ref('stg_ecom__reviews') }}

),

products as (

    select * from {{ ref('stg_ecom__products') }}

),

inventory as (

    select * from {{ ref('stg_ecom__inventory') }}

),

loans as (

    select * from {{ ref('stg_ecom__loans') }}

),

schedule as (

    select * from {{ ref('stg_ecom__loan_schedule') }}

),

repayments as (

    select * from {{ ref('stg_ecom__repayments') }}

),

months as (

    select
        generate_series(
            date_trunc('month', min(_partition_date)) + interval '1 month',
            date_trunc('month', max(_partition_date)) + interval '1 month',
            interval '1 month'
        )::date as as_of_date
    from {{ source('ecom', 'orders') }}

),

spine as (

    select
        sellers.*,
        months.as_of_date
    from sellers
    inner join months on sellers.onboarded_date < months.as_of_date

),

lines as (

    select
        order_items.seller_id,
        orders.order_date,
        greatest(orders.known_date, order_items.known_date) as known_date,
        order_items.order_id,
        order_items.line_number,
        order_items.quantity * order_items.unit_price as amount
    from order_items
    inner join orders on order_items.order_id = orders.order_id

),

sales as (

    select
        spine.seller_id,
        spine.as_of_date,
        sum(lines.amount) filter (where lines.order_date >= spine.as_of_date - interval '1 month') as gmv_1m,
        sum(lines.amount) as gmv_3m,
        count(distinct lines.order_id) filter (where lines.order_date >= spine.as_of_date - interval '1 month')
            as orders_1m,
        count(distinct lines.order_id) as orders_3m,
        count(*) as lines_3m
    from spine
    inner join lines
        on spine.seller_id = lines.seller_id
        and lines.order_date >= spine.as_of_date - interval '3 months'
        and lines.order_date < spine.as_of_date
        and lines.known_date < spine.as_of_date
    group by 1, 2

),

prior_sales as (

    select
        spine.seller_id,
        spine.as_of_date,
        sum(lines.amount) as gmv_prior_3m
    from spine
    inner join lines
        on spine.seller_id = lines.seller_id
        and lines.order_date >= spine.as_of_date - interval '6 months'
        and lines.order_date < spine.as_of_date - interval '3 months'
        and lines.known_date < spine.as_of_date
    group by 1, 2

),

deliveries as (

    select
        spine.seller_id,
        spine.as_of_date,
        avg(case when shipments.delivered_at > shipments.promised_at then 1.0 else 0.0 end) as late_delivery_rate_3m
    from spine
    inner join shipments
        on spine.seller_id = shipments.seller_id
        and shipments.delivered_at >= spine.as_of_date - interval '3 months'
        and shipments.delivered_at < spine.as_of_date
        and shipments.known_date < spine.as_of_date
    group by 1, 2

),

seller_returns as (

    select
        spine.seller_id,
        spine.as_of_date,
        count(*) as returns_3m
    from spine
    inner join lines on spine.seller_id = lines.seller_id
    inner join returns
        on lines.order_id = returns.order_id
        and lines.line_number = returns.line_number
        and returns.returned_at >= spine.as_of_date - interval '3 months'
        and returns.returned_at < spine.as_of_date
        and returns.known_date < spine.as_of_date
    group by 1, 2

),

seller_reviews as (

    select
        spine.seller_id,
        spine.as_of_date,
        avg(reviews.rating)::double precision as avg_review_3m
    from spine
    inner join products on spine.seller_id = products.seller_id
    inner join reviews
        on products.product_id = reviews.product_id
        and reviews.reviewed_at >= spine.as_of_date - interval '3 months'
        and reviews.reviewed_at < spine.as_of_date
        and reviews.known_date < spine.as_of_date
    group by 1, 2

),

stock as (

    select
        spine.seller_id,
        spine.as_of_date,
        avg(inventory.on_hand)::double precision as avg_on_hand_1m
    from spine
    inner join inventory
        on spine.seller_id = inventory.seller_id
        and inventory.snapshot_date >= spine.as_of_date - interval '1 month'
        and inventory.snapshot_date < spine.as_of_date
        and inventory.known_date < spine.as_of_date
    group by 1, 2

),

installments_known as (

    select
        spine.seller_id,
        spine.as_of_date,
        loans.loan_id,
        loans.principal,
        loans.originated_at,
        schedule.installment_number,
        schedule.due_date,
        schedule.amount_due,
        coalesce(sum(repayments.amount), 0) as paid_known,
        max(repayments.paid_at)::date as last_paid_date
    from spine
    inner join loans
        on spine.seller_id = loans.seller_id
        and loans.originated_at < spine.as_of_date
        and loans.known_date < spine.as_of_date
    inner join schedule on loans.loan_id = schedule.loan_id
    left join repayments
        on schedule.loan_id = repayments.loan_id
        and schedule.installment_number = repayments.installment_number
        and repayments.paid_at < spine.as_of_date
        and repayments.known_date < spine.as_of_date
    group by 1, 2, 3, 4, 5, 6, 7, 8

),

credit as (

    select
        seller_id,
        as_of_date,
        count(distinct loan_id) filter (where due_date >= as_of_date or paid_known < amount_due * 0.99)
            as n_active_loans,
        coalesce(sum(amount_due - least(paid_known, amount_due)) filter (where due_date >= as_of_date), 0)
            as outstanding_amount,
        coalesce(max(
            case
                when due_date >= as_of_date then 0
                when paid_known >= amount_due * 0.99 then greatest(last_paid_date - due_date, 0)
                else as_of_date - due_date
            end
        ), 0) as max_dpd_to_date,
        count(*) filter (
            where due_date >= as_of_date - interval '6 months' and due_date < as_of_date
            and (paid_known < amount_due * 0.99 or last_paid_date > due_date)
        ) as n_late_installments_6m
    from installments_known
    group by 1, 2

),

final as (

    select
        spine.seller_id,
        spine.as_of_date,
        spine.size_band,
        spine.category,
        spine.region,
        ((spine.as_of_date - spine.onboarded_date) / 30.0)::double precision as months_on_platform,
        coalesce(sales.gmv_1m, 0)::double precision as gmv_1m,
        coalesce(sales.gmv_3m, 0)::double precision as gmv_3m,
        (
            case when prior_sales.gmv_prior_3m > 0 then coalesce(sales.gmv_3m, 0) / prior_sales.gmv_prior_3m - 1 end
        )::double precision as gmv_growth_3m,
        coalesce(sales.orders_1m, 0)::double precision as orders_1m,
        coalesce(sales.orders_3m, 0)::double precision as orders_3m,
        (
            case when sales.lines_3m > 0 then coalesce(seller_returns.returns_3m, 0)::numeric / sales.lines_3m end
        )::double precision as return_rate_3m,
        seller_reviews.avg_review_3m,
        deliveries.late_delivery_rate_3m::double precision as late_delivery_rate_3m,
        stock.avg_on_hand_1m,
        coalesce(credit.n_active_loans, 0)::double precision as n_active_loans,
        coalesce(credit.outstanding_amount, 0)::double precision as outstanding_amount,
        coalesce(credit.max_dpd_to_date, 0)::double precision as max_dpd_to_date,
        coalesce(credit.n_late_installments_6m, 0)::double precision as n_late_installments_6m
    from spine
    left join sales on spine.seller_id = sales.seller_id and spine.as_of_date = sales.as_of_date
    left join prior_sales on spine.seller_id = prior_sales.seller_id and spine.as_of_date = prior_sales.as_of_date
    left join deliveries on spine.seller_id = deliveries.seller_id and spine.as_of_date = deliveries.as_of_date
    left join seller_returns
        on spine.seller_id = seller_returns.seller_id and spine.as_of_date = seller_returns.as_of_date
    left join seller_reviews
        on spine.seller_id = seller_reviews.seller_id and spine.as_of_date = seller_reviews.as_of_date
    left join stock on spine.seller_id = stock.seller_id and spine.as_of_date = stock.as_of_date
    left join credit on spine.seller_id = credit.seller_id and spine.as_of_date = credit.as_of_date

)

select * from final
