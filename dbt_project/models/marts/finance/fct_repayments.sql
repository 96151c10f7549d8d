with

repayments as (

    select * from {{ ref('stg_ecom__repayments') }}

),

installments as (

    select * from {{ ref('fct_loan_installments') }}

),

final as (

    select
        repayments.repayment_id,
        repayments.loan_id,
        installments.seller_id,
        repayments.installment_number,
        repayments.amount,
        repayments.paid_at,
        repayments.paid_at::date as paid_date,
        installments.due_date,
        greatest(repayments.paid_at::date - installments.due_date, 0) as days_late,
        repayments.known_date,
        repayments.known_date > repayments.paid_at::date as is_booked_late
    from repayments
    left join installments
        on repayments.loan_id = installments.loan_id
        and repayments.installment_number = installments.installment_number

)

select * from final
