{#- Staging: every contract column, the knowledge date, deduplicated by key (latest partition, then load wins). -#}
{% macro stage(table, key, columns) %}
with

source as (

    select * from {{ source('ecom', table) }}

),

ranked as (

    select
        {{ columns | join(',\n        ') }},
        _partition_date as known_date,
        _loaded_at as loaded_at,
        row_number() over (
            partition by {{ key | join(', ') }} order by _partition_date desc, _loaded_at desc
        ) as version_rank
    from source

),

final as (

    select {{ columns | join(', ') }}, known_date, loaded_at
    from ranked
    where version_rank = 1

)

select * from final
{% endmacro %}
