{#- A bound of the days a run covers (`day_from`, `day_to`, `as_of_from`, `as_of_to`): the dbt var of that name
    (`dbt build --vars ...`), else the environment variable `ECOMFLOW_<NAME>`, else none.

    The warehouse DAG and `ecomflow build` pass the environment variables: a `--vars` value that differs from the
    last parse makes dbt re-parse the whole project (several seconds on every daily run), while a changed
    environment variable only re-parses the files that read it. -#}
{% macro run_var(name) -%}
    {{- return(var(name, none) or env_var('ECOMFLOW_' ~ name | upper, '') or none) -}}
{%- endmacro %}
