-- The loan book: one row per loan as of the last loaded day — what is due and paid, how late it runs and
-- whether it defaulted.
with

loans as (

    select * from {{ ref('stg_ecom__loans') }}

),

installments as (

    select * from {{ ref('int_loan_installments_aged') }}

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
    from installments
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
