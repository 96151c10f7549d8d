{#- The as-of dates a run (re)builds: the vars the warehouse DAG passes, else every day the data covers. -#}
{% macro as_of_from() -%}
    {%- if var('as_of_from', none) -%} date '{{ var("as_of_from") }}'
    {%- else -%} (select min(_partition_date) + 1 from {{ source('ecom', 'orders') }}) {%- endif -%}
{%- endmacro %}

{% macro as_of_to() -%}
    {%- if var('as_of_to', none) -%} date '{{ var("as_of_to") }}'
    {%- else -%} (select max(_partition_date) + 1 from {{ source('ecom', 'orders') }}) {%- endif -%}
{%- endmacro %}
