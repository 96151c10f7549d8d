-- Sellers with an active loan at month start M, not already in default, labelled 1 if any instalment of theirs
-- reaches the default threshold (days past due) within [M, M + window). Closed windows only.
with

features as (

    select * from {{ ref('feat_seller_monthly') }}

),

installments as (

    select * from {{ ref('fct_loan_installments') }}

),

last_day as (

    select {{ last_loaded_date(calendar=true) }} as last_loaded_date

),

defaults as (

    select
        seller_id,
        due_date + {{ var('credit_default_dpd') }}::int as default_date
    from installments
    where not is_settled or settled_date > due_date + {{ var('credit_default_dpd') }}::int

),

final as (

    select
        features.*,
        case
            when exists (
                    select 1
                    from defaults
                    where
                        defaults.seller_id = features.seller_id
                        and defaults.default_date >= features.as_of_date
                        and defaults.default_date
                        < features.as_of_date + interval '{{ var("credit_window_months") }} months'
                ) then 1
            else 0
        end as label
    from features
    cross join last_day
    where features.n_active_loans > 0
        and features.max_dpd_to_date < {{ var('credit_default_dpd') }}::int
        and features.as_of_date + interval '{{ var("credit_window_months") }} months' <= last_day.last_loaded_date + 1

)

select * from final
