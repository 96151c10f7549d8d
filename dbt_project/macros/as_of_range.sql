{#- The as-of dates a run (re)builds: the vars the warehouse DAG passes, else every day the data covers. -#}
{% macro as_of_from() -%}
    {%- if var('as_of_from', none) -%} date '{{ var("as_of_from") }}'
    {%- else -%} (select min(_partition_date) + 1 from {{ source('ecom', 'orders') }}) {%- endif -%}
{%- endmacro %}

{% macro as_of_to() -%}
    {%- if var('as_of_to', none) -%} date '{{ var("as_of_to") }}'
    {%- else -%} (select max(_partition_date) + 1 from {{ source('ecom', 'orders') }}) {%- endif -%}
{%- endmacro %}

{#- The last day the warehouse has data for: the latest loaded partition of orders. One definition for every
    model that ages something ("as of the last loaded day") or closes a label window. -#}
{% macro last_loaded_date() -%}
    (select max(_partition_date) from {{ source('ecom', 'orders') }})
{%- endmacro %}
