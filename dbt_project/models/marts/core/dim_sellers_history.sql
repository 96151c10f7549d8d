-- Sellers as a type-2 slowly changing dimension: one row per version of a seller's record, valid from the
-- day it landed (the first version from onboarding) until the next version. Built from every version raw holds.
with

versions as (

    select * from {{ ref('stg_ecom__seller_versions') }}

),

numbered as (

    select
        *,
        row_number() over (partition by seller_id order by known_date) as version_number
    from versions

),

final as (

    select
        seller_id,
        seller_name,
        size_band,
        category,
        region,
        case when version_number = 1 then least(onboarded_at::date, known_date) else known_date end as valid_from,
        lead(known_date) over by_seller as valid_to,
        lead(known_date) over by_seller is null as is_current,
        version_number,
        known_date
    from numbered
    window by_seller as (partition by seller_id order by known_date)

)

select * from final
