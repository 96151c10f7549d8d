{#- The as-of dates a feature run (re)builds: the run's vars (`run_var`), else every day the data covers (the day
    after each day of dim_date: features read marts, never staging or sources). -#}
{% macro as_of_from() -%}
    {%- set day = run_var('as_of_from') -%}
    {%- if day -%} date '{{ day }}'
    {%- else -%} (select min(date_day) + 1 from {{ ref('dim_date') }}) {%- endif -%}
{%- endmacro %}

{% macro as_of_to() -%}
    {%- set day = run_var('as_of_to') -%}
    {%- if day -%} date '{{ day }}'
    {%- else -%} (select max(date_day) + 1 from {{ ref('dim_date') }}) {%- endif -%}
{%- endmacro %}

{#- The last day the warehouse has data for: the latest loaded partition of orders. One definition for every
    model that ages something ("as of the last loaded day") or closes a label window: marts read it from
    staging (stg_ecom__loaded_range), features (`calendar=true`) from dim_date, whose last day it is. -#}
{% macro last_loaded_date(calendar=false) -%}
    {%- if calendar -%} (select max(date_day) from {{ ref('dim_date') }})
    {%- else -%} (select last_loaded_date from {{ ref('stg_ecom__loaded_range') }}) {%- endif -%}
{%- endmacro %}
