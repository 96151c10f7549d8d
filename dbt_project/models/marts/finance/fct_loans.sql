-- The loan book: one row per loan as of the last loaded day — what is due and paid, how late it runs and
-- whether it defaulted. Each instalment is aged as of that day: days past due (for a settled one, how late it
-- settled; for an open one past its due date, how late it is now) and the day it reached the default threshold.
with

loans as (

    select * from {{ ref('stg_ecom__loans') }}

),

installments as (

    select * from {{ ref('fct_loan_installments') }}

),

last_day as (

    select {{ last_loaded_date() }} as last_loaded_date

),

aged as (

    select
        installments.loan_id,
        installments.amount_due,
        installments.amount_paid,
        installments.is_settled,
        greatest(
            coalesce(installments.settled_date, last_day.last_loaded_date) - installments.due_date, 0
        ) as days_past_due,
        installments.due_date <= last_day.last_loaded_date as is_due,
        installments.due_date
    from installments
    cross join last_day

),

aged_with_default as (

    select
        *,
        case
            when days_past_due >= {{ var('credit_default_dpd') }}::int
                then due_date + {{ var('credit_default_dpd') }}::int
        end as default_date
    from aged

),

per_loan as (

    select
        loan_id,
        count(*) as installments,
        count(*) filter (where is_due) as installments_due,
        count(*) filter (where is_settled) as installments_settled,
        sum(amount_due) as amount_scheduled,
        sum(amount_due) filter (where is_due) as amount_due_to_date,
        sum(amount_paid) as amount_paid,
        max(days_past_due) filter (where not is_settled) as current_days_past_due,
        max(days_past_due) as max_days_past_due,
        min(default_date) as default_date
    from aged_with_default
    group by loan_id

),

final as (

    select
        loans.loan_id,
        loans.seller_id,
        loans.principal,
        loans.annual_rate,
        loans.term_months,
        loans.originated_at,
        loans.originated_at::date as originated_date,
        coalesce(per_loan.installments, 0) as installments,
        coalesce(per_loan.installments_due, 0) as installments_due,
        coalesce(per_loan.installments_settled, 0) as installments_settled,
        coalesce(per_loan.amount_scheduled, 0) as amount_scheduled,
        coalesce(per_loan.amount_due_to_date, 0) as amount_due_to_date,
        coalesce(per_loan.amount_paid, 0) as amount_paid,
        coalesce(per_loan.amount_scheduled, 0) - coalesce(per_loan.amount_paid, 0) as amount_outstanding,
        coalesce(per_loan.current_days_past_due, 0) as current_days_past_due,
        coalesce(per_loan.max_days_past_due, 0) as max_days_past_due,
        per_loan.default_date is not null as is_defaulted,
        per_loan.default_date,
        case
            when per_loan.default_date is not null then 'defaulted'
            when per_loan.installments > 0 and per_loan.installments_settled = per_loan.installments then 'repaid'
            when coalesce(per_loan.current_days_past_due, 0) > 0 then 'late'
            else 'current'
        end as loan_status
    from loans
    left join per_loan on loans.loan_id = per_loan.loan_id

)

select * from final
