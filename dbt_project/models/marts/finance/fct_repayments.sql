{{ config(
    materialized='incremental',
    incremental_strategy='replace_days',
    unique_key='repayment_id',
    on_schema_change='fail',
    indexes=[{'columns': ['repayment_id'], 'unique': true}, {'columns': ['changed_date']}]
) }}
-- One row per repayment against the instalment it pays. Incremental on changed_date
-- (macros/incremental_days.sql): the latest landing day of the repayment, its instalment and its loan.
with

repayments as (

    select * from {{ ref('stg_ecom__repayments') }}

),

schedule as (

    select * from {{ ref('stg_ecom__loan_schedule') }}

),

loans as (

    select * from {{ ref('stg_ecom__loans') }}

),

installments as (

    -- The instalments of fct_loan_installments (a schedule row of a known loan), read from staging so that
    -- each row's landing days are at hand.
    select
        schedule.loan_id,
        schedule.installment_number,
        schedule.due_date,
        loans.seller_id,
        greatest(schedule.known_date, loans.known_date) as known_date
    from schedule
    inner join loans on schedule.loan_id = loans.loan_id

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
        repayments.known_date > repayments.paid_at::date as is_booked_late,
        greatest(repayments.known_date, installments.known_date) as changed_date
    from repayments
    left join installments
        on repayments.loan_id = installments.loan_id
        and repayments.installment_number = installments.installment_number

)

select * from final
{% if is_incremental() -%}
    where {{ in_run_days('repayment_id') }}
{%- endif %}
