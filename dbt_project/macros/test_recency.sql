{#- Generic test: `column_name` (a date or timestamp) has a row within `interval` `datepart`s of the last loaded
    day, not of now(): a backfill or a replay of old days is as recent as its data. The last loaded day is read
    from dim_date, whose last day is `last_loaded_date()`: a test on a source would make cosmos gate the
    source's task (and every staging model after it) on every recency test, so the test hangs off models only.
    `optional_source` names the source table the model is built from when a user may not have it (partial
    sources): while its staging view is empty, the model is empty by design and the test passes. -#}
{% test recency(model, column_name, interval=1, datepart='day', optional_source=none) %}

with

latest as (

    select max({{ column_name }}) as most_recent from {{ model }}

),

reference as (

    select max(date_day) as last_loaded_date from {{ ref('dim_date') }}

)

select
    latest.most_recent,
    reference.last_loaded_date
from latest
cross join reference
where
    (
        latest.most_recent is null
        or latest.most_recent < reference.last_loaded_date - interval '{{ interval }} {{ datepart }}'
    )
    {%- if optional_source %}
        and exists (select 1 from {{ ref('stg_ecom__' ~ optional_source) }})
    {%- endif %}

{% endtest %}
