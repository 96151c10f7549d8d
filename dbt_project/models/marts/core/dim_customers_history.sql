-- Customers as a type-2 slowly changing dimension: one row per profile version, valid from its updated_at
-- until the next version's. Built from every version raw holds rather than a dbt snapshot, so a backfill or
-- a bulk history load yields the same history as day-by-day runs (a snapshot only sees the state at run time).
with

versions as (

    select * from {{ ref('stg_ecom__customer_versions') }}

),

final as (

    select
        customer_id,
        signup_channel,
        region,
        city,
        age_band,
        gender,
        marketing_opt_in as is_marketing_opt_in,
        updated_at as valid_from,
        lead(updated_at) over by_customer as valid_to,
        lead(updated_at) over by_customer is null as is_current,
        row_number() over by_customer as version_number,
        known_date
    from versions
    window by_customer as (partition by customer_id order by updated_at)

)

select * from final
