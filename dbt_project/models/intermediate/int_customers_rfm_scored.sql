-- Recency, frequency and monetary value per customer who ordered, scored 1–5 against all ordering customers
-- (5 = most recent / most frequent / highest value), and the segment marketing acts on. Ties in a measure
-- are broken by customer_id so the scores are deterministic.
with

orders as (

    select * from {{ ref('fct_orders') }}

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

final as (

    select
        customer_id,
        first_order_date,
        last_order_date,
        recency_days,
        frequency,
        monetary,
        r_score,
        f_score,
        m_score,
        case
            when r_score >= 4 and f_score >= 4 then 'champion'
            when r_score >= 4 and f_score <= 2 then 'promising'
            when r_score <= 2 and f_score >= 4 then 'at_risk'
            when r_score <= 2 and f_score <= 2 then 'hibernating'
            else 'needs_attention'
        end as rfm_segment
    from scored

)

select * from final
