-- One row per instalment: what was due, what has been paid (as far as we know today) and when it settled.
with

schedule as (

    select * from {{ ref('stg_ecom__loan_schedule') }}

),

loans as (

    select * from {{ ref('stg_ecom__loans') }}

),

repayments as (

    select * from {{ ref('stg_ecom__repayments') }}

),

paid as (

    select
        loan_id,
        installment_number,
        sum(amount) as amount_paid,
        max(paid_at) as last_paid_at,
        max(known_date) as last_known_date
    from repayments
    group by loan_id, installment_number

),

final as (

    select
        schedule.loan_id,
        loans.seller_id,
        schedule.installment_number,
        schedule.due_date,
        schedule.amount_due,
        coalesce(paid.amount_paid, 0) as amount_paid,
        coalesce(paid.amount_paid, 0) >= schedule.amount_due * 0.99 as is_settled,
        case when coalesce(paid.amount_paid, 0) >= schedule.amount_due * 0.99 then paid.last_paid_at::date end
            as settled_date,
        schedule.known_date
    from schedule
    inner join loans on schedule.loan_id = loans.loan_id
    left join paid
        on schedule.loan_id = paid.loan_id
        and schedule.installment_number = paid.installment_number

)

select * from final
