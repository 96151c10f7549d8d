-- Every scheduled instalment of a known loan, with the loan's seller, terms and the day the loan landed: what
-- point-in-time credit features read before they look at the repayments known by then.
with

loans as (

    select * from {{ ref('stg_ecom__loans') }}

),

schedule as (

    select * from {{ ref('stg_ecom__loan_schedule') }}

),

final as (

    select
        loans.seller_id,
        loans.loan_id,
        loans.principal,
        loans.originated_at,
        loans.known_date,
        schedule.installment_number,
        schedule.due_date,
        schedule.amount_due
    from loans
    inner join schedule on loans.loan_id = schedule.loan_id

)

select * from final
