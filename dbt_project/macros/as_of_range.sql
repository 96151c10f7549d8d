{#- The as-of dates a run (re)builds: the run's vars (`run_var`), else every day the data covers. -#}
{% macro as_of_from() -%}
    {%- set day = run_var('as_of_from') -%}
    {%- if day -%} date '{{ day }}'
    {%- else -%} (select min(_partition_date) + 1 from {{ source('ecom', 'orders') }}) {%- endif -%}
{%- endmacro %}

{% macro as_of_to() -%}
    {%- set day = run_var('as_of_to') -%}
    {%- if day -%} date '{{ day }}'
    {%- else -%} (select max(_partition_date) + 1 from {{ source('ecom', 'orders') }}) {%- endif -%}
{%- endmacro %}

{#- The last day the warehouse has data for: the latest loaded partition of orders. One definition for every
    model that ages something ("as of the last loaded day") or closes a label window. -#}
{% macro last_loaded_date() -%}
    (select max(_partition_date) from {{ source('ecom', 'orders') }})
{%- endmacro %}
