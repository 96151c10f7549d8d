-- One row per seller scored on the latest as-of date: a credit limit from the risk grade and the turnover of the
-- last three full months, or a decline with every reason that applies (comma-separated, null when offered).
-- The credit policy is the `policy` and `thresholds` CTEs (documented in _activation__models.yml).
with

scores as (

    select * from {{ source('scores', 'seller_credit_risk') }}

),

sellers as (

    select * from {{ ref('dim_sellers') }}

),

monthly_performance as (

    select * from {{ ref('seller_monthly_performance') }}

),

loans as (

    select * from {{ ref('fct_loans') }}

),

latest_scores as (

    {{ latest_as_of('scores') }}

),

policy as (

    -- Months of recent turnover each grade may borrow; E is never offered credit.
    select
        grades.risk_grade,
        grades.turnover_months::double precision as turnover_months
    from (values ('A', 6), ('B', 4), ('C', 2), ('D', 1), ('E', 0)) as grades (risk_grade, turnover_months)

),

thresholds as (

    select
        50000.0 as max_limit,
        100.0 as min_limit,
        30 as max_days_past_due,
        6 as min_history_months

),

turnover as (

    select
        latest_scores.seller_id,
        coalesce(sum(monthly_performance.gmv), 0) / 3 as avg_monthly_gmv_3m
    from latest_scores
    left join monthly_performance
        on latest_scores.seller_id = monthly_performance.seller_id
        and monthly_performance.month_start_date >= date_trunc('month', latest_scores.as_of_date) - interval '3 months'
        and monthly_performance.month_start_date < date_trunc('month', latest_scores.as_of_date)
    group by latest_scores.seller_id

),

exposure as (

    select
        seller_id,
        sum(greatest(amount_outstanding, 0)) as outstanding_amount,
        max(current_days_past_due) as current_days_past_due,
        bool_or(is_defaulted and amount_outstanding > 0.01) as has_active_default
    from loans
    group by seller_id

),

assessed as (

    select
        latest_scores.seller_id,
        latest_scores.as_of_date,
        latest_scores.risk_grade,
        latest_scores.score as probability_of_default,
        (
            extract(year from age(latest_scores.as_of_date, sellers.onboarded_date)) * 12
            + extract(month from age(latest_scores.as_of_date, sellers.onboarded_date))
        )::integer as months_on_platform,
        turnover.avg_monthly_gmv_3m,
        coalesce(exposure.outstanding_amount, 0) as outstanding_amount,
        coalesce(exposure.current_days_past_due, 0) as current_days_past_due,
        coalesce(exposure.has_active_default, false) as has_active_default,
        coalesce(policy.turnover_months, 0) as turnover_months,
        least(
            floor(turnover.avg_monthly_gmv_3m * coalesce(policy.turnover_months, 0) / 10) * 10, thresholds.max_limit
        ) as indicative_limit,
        latest_scores.reason_1,
        latest_scores.reason_2,
        latest_scores.reason_3,
        latest_scores.model_name,
        latest_scores.model_version,
        latest_scores.scored_at
    from latest_scores
    cross join thresholds
    inner join sellers on latest_scores.seller_id = sellers.seller_id
    inner join turnover on latest_scores.seller_id = turnover.seller_id
    left join exposure on latest_scores.seller_id = exposure.seller_id
    left join policy on latest_scores.risk_grade = policy.risk_grade

),

decisions as (

    select
        assessed.*,
        array_remove(array[
            case when assessed.turnover_months = 0 then 'risk_grade_' || lower(assessed.risk_grade) end,
            case when assessed.has_active_default then 'active_default' end,
            case when assessed.current_days_past_due > thresholds.max_days_past_due then 'in_arrears' end,
            case when assessed.months_on_platform < thresholds.min_history_months then 'too_little_history' end,
            case when assessed.avg_monthly_gmv_3m <= 0 then 'no_recent_turnover' end
        ], null) as policy_reasons,
        assessed.indicative_limit < thresholds.min_limit as is_below_minimum
    from assessed
    cross join thresholds

),

declines as (

    select
        *,
        case
            when cardinality(policy_reasons) > 0 then policy_reasons
            when is_below_minimum then array['limit_below_minimum']
        end as reasons
    from decisions

),

final as (

    select
        seller_id,
        as_of_date,
        risk_grade,
        probability_of_default,
        months_on_platform,
        avg_monthly_gmv_3m,
        outstanding_amount,
        current_days_past_due,
        has_active_default,
        turnover_months,
        reasons is not null as is_declined,
        (case when reasons is null then indicative_limit else 0 end)::double precision as credit_limit,
        (case when reasons is null then greatest(indicative_limit - outstanding_amount, 0) else 0 end)::double precision
            as available_credit,
        array_to_string(reasons, ',') as decline_reasons,
        reason_1,
        reason_2,
        reason_3,
        model_name,
        model_version,
        scored_at
    from declines

)

select * from final
