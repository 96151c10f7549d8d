-- Every version of a seller's record raw holds (one per seller and landing day; the day's latest load wins),
-- for the type-2 history: stg_ecom__sellers keeps only the latest.
{%- set columns = ['seller_id', 'seller_name', 'size_band', 'category', 'region', 'onboarded_at'] %}
with

source as (

    select * from {{ source('ecom', 'sellers') }}

),

ranked as (

    select
        {{ columns | join(',\n        ') }},
        _partition_date as known_date,
        row_number() over (partition by seller_id, _partition_date order by _loaded_at desc) as duplicate_rank
    from source

),

final as (

    select
        {{ columns | join(',\n        ') }},
        known_date
    from ranked
    where duplicate_rank = 1

)

select * from final
