{#- The rows of `relation` (a relation, or the name of a CTE) on its latest as-of date: a day of published scores. -#}
{% macro latest_as_of(relation, as_of_column='as_of_date') -%}
    select *
    from {{ relation }}
    where {{ as_of_column }} = (select max({{ as_of_column }}) from {{ relation }})
{%- endmacro %}
