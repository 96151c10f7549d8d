-- Every instalment aged as of the last loaded day: days past due (for a settled one, how late it settled;
-- for an open one past its due date, how late it is now) and the day it reached the default threshold, if so.
with

installments as (

    select * from {{ ref('fct_loan_installments') }}

),

last_day as (

    select {{ last_loaded_date() }} as last_loaded_date

),

aged as (

    select
        installments.loan_id,
        installments.seller_id,
        installments.installment_number,
        installments.due_date,
        installments.amount_due,
        installments.amount_paid,
        installments.is_settled,
        installments.settled_date,
        greatest(
            coalesce(installments.settled_date, last_day.last_loaded_date) - installments.due_date, 0
        ) as days_past_due,
        installments.due_date <= last_day.last_loaded_date as is_due
    from installments
    cross join last_day

),

final as (

    select
        *,
        case
            when days_past_due >= {{ var('credit_default_dpd') }}::int
                then due_date + {{ var('credit_default_dpd') }}::int
        end as default_date
    from aged

)

select * from final
