-- Every version of a customer's profile raw holds (one per customer and updated_at; a version landed twice
-- keeps its latest partition, then load), for the type-2 history: stg_ecom__customers keeps only the latest.
{%- set columns = [
    'customer_id', 'signup_at', 'signup_channel', 'region', 'city', 'age_band', 'gender', 'marketing_opt_in',
    'updated_at'
] %}
with

source as (

    select * from {{ source('ecom', 'customers') }}

),

ranked as (

    select
        {{ columns | join(',\n        ') }},
        _partition_date as known_date,
        row_number() over (
            partition by customer_id, updated_at order by _partition_date desc, _loaded_at desc
        ) as duplicate_rank
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
