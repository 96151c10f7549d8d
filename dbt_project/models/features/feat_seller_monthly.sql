{{ config(contract={'enforced': true}) }}
-- One row per seller per month start M, from rows both dated and known (landed) strictly before M:
-- a repayment booked after M does not count as paid at M, so days past due are what we knew then.
-- Each windowed measure joins the seller × month spine to its rows dated in the window and known before M
-- (macros/known_window.sql), one CTE per entry of `windows`.
{%- set windows = [
    {'name': 'sales', 'relation': 'lines', 'date_column': 'order_date', 'since': '3 months', 'measures': [
        "sum(lines.amount) filter (where lines.order_date >= spine.as_of_date - interval '1 month') as gmv_1m",
        "sum(lines.amount) as gmv_3m",
        "count(distinct lines.order_id) filter (where lines.order_date >= spine.as_of_date - interval '1 month')\n            as orders_1m",
        "count(distinct lines.order_id) as orders_3m",
        "count(*) as lines_3m",
    ]},
    {'name': 'prior_sales', 'relation': 'lines', 'date_column': 'order_date', 'since': '6 months',
        'until': '3 months', 'measures': ["sum(lines.amount) as gmv_prior_3m"]},
    {'name': 'deliveries', 'relation': 'shipments', 'date_column': 'delivered_at', 'since': '3 months', 'measures': [
        "avg(case when shipments.delivered_at > shipments.promised_at then 1.0 else 0.0 end) as late_delivery_rate_3m",
    ]},
    {'name': 'seller_returns', 'relation': 'returns', 'date_column': 'returned_at', 'since': '3 months',
        'measures': ["count(*) as returns_3m"]},
    {'name': 'seller_reviews', 'relation': 'reviews', 'date_column': 'reviewed_at', 'since': '3 months',
        'measures': ["avg(reviews.rating)::double precision as avg_review_3m"]},
    {'name': 'stock', 'relation': 'inventory', 'date_column': 'snapshot_date', 'since': '1 month',
        'measures': ["avg(inventory.on_hand)::double precision as avg_on_hand_1m"]},
] %}
with

sellers as (

    select * from {{ ref('dim_sellers') }}

),

calendar as (

    select * from {{ ref('dim_date') }}

),

lines as (

    select * from {{ ref('int_order_lines_dated') }}

),

shipments as (

    select * from {{ ref('fct_shipments') }}

),

returns as (

    select * from {{ ref('int_returns_attributed') }}

),

reviews as (

    select * from {{ ref('int_reviews_attributed') }}

),

inventory as (

    select * from {{ ref('fct_inventory_daily') }}

),

installments as (

    select * from {{ ref('int_loan_installments_scheduled') }}

),

repayments as (

    select * from {{ ref('fct_repayments') }}

),

months as (

    select
        generate_series(
            date_trunc('month', min(date_day)) + interval '1 month',
            date_trunc('month', max(date_day)) + interval '1 month',
            interval '1 month'
        )::date as as_of_date
    from calendar

),

spine as (

    select
        sellers.*,
        months.as_of_date
    from sellers
    inner join months on sellers.onboarded_date < months.as_of_date

),
{% for window in windows %}
    {{ window.name }} as (

        select
            spine.seller_id,
            spine.as_of_date,
            {{ window.measures | join(',\n            ') }}
        from spine
        {{ known_window(window.relation, window.date_column, window.since, window.get('until')) }}
        group by 1, 2

    ),
{% endfor %}
installments_known as (

    select
        spine.seller_id,
        spine.as_of_date,
        installments.loan_id,
        installments.principal,
        installments.originated_at,
        installments.installment_number,
        installments.due_date,
        installments.amount_due,
        coalesce(sum(repayments.amount), 0) as paid_known,
        max(repayments.paid_at)::date as last_paid_date
    from spine
    {{ known_window('installments', 'originated_at') }}
    left join repayments
        on installments.loan_id = repayments.loan_id
        and installments.installment_number = repayments.installment_number
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
