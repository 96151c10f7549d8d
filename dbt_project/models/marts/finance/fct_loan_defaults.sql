-- Default events: one row per loan that reached the default threshold (days past due), on the day it did.
with

loans as (

    select * from {{ ref('fct_loans') }}

),

final as (

    select
        loan_id,
        seller_id,
        default_date,
        principal,
        amount_outstanding,
        default_date - originated_date as days_from_origination
    from loans
    where is_defaulted

)

select * from final
