{#- Day-grained incremental facts.

    A run covers the landing days (raw partitions) `day_from` .. `day_to`, both inclusive: the vars (`run_var`) the
    warehouse DAG passes (from the first day its asset events carry through the last day loaded). Either may be left out:
    no `day_from` means from the first day, no `day_to` through the last — a plain `dbt build` reprocesses every
    day, which is correct, only slower.

    Every incremental fact has a `changed_date` column: the latest landing day of any raw row it is built from
    (an order and its lines, a line and its returns, a session and its events...), so a row that landed late,
    a correction of an old row and a return processed weeks after its order all change their fact row on the day
    they land. An incremental run selects (`in_run_days()`) the rows whose `changed_date` is one of its days,
    and those of keys the table holds on its days (whose newest input may since have been taken out of raw by a
    reload), and the `replace_days` strategy puts them in place of what the table held for those days and keys.
    The first build and `--full-refresh` build every day. -#}

{% macro day_from() -%}
    {%- set day = run_var('day_from') -%}
    {%- if day -%} date '{{ day }}' {%- else -%} date '-infinity' {%- endif -%}
{%- endmacro %}

{% macro day_to() -%}
    {%- set day = run_var('day_to') -%}
    {%- if day -%} date '{{ day }}' {%- else -%} date 'infinity' {%- endif -%}
{%- endmacro %}

{#- The filter of an incremental run (call it under `is_incremental()`): the rows that changed on the run's days,
    and the rows of every key the table holds on those days. `key`: the model's `unique_key` (a column or a list). -#}
{% macro in_run_days(key) -%}
    {%- set key = ([key] if key is string else key) | join(', ') -%}
    (
        changed_date between {{ day_from() }} and {{ day_to() }}
        or ({{ key }}) in (
            select {{ key }} from {{ this }}
            where changed_date between {{ day_from() }} and {{ day_to() }}
        )
    )
{%- endmacro %}

{#- Incremental strategy `replace_days`: delete+insert by day and by key, in the model's transaction. Deletes the
    target's rows whose `changed_date` is one of the run's days (a row whose inputs were reloaded away goes
    with them) and every row whose key is in the batch (the previous version of a key that changed, whatever
    day it was on), then inserts the batch. dbt's `delete+insert` deletes by key only, and `microbatch` merges
    by key one day after another: neither takes out a key that is no longer in raw. -#}
{% macro get_incremental_replace_days_sql(arg_dict) %}
    {%- set target, batch = arg_dict['target_relation'], arg_dict['temp_relation'] -%}
    {%- set key = arg_dict['unique_key'] -%}
    {%- if not key -%}
        {{ exceptions.raise_compiler_error("incremental_strategy 'replace_days' needs a unique_key") }}
    {%- endif -%}
    {%- set key = [key] if key is string else key -%}
    {%- set columns = get_quoted_csv(arg_dict['dest_columns'] | map(attribute='name')) -%}

    delete from {{ target }}
    where changed_date between {{ day_from() }} and {{ day_to() }};

    delete from {{ target }} as target_rows
    using {{ batch }} as batch_rows
    where {% for column in key -%}
        target_rows.{{ column }} = batch_rows.{{ column }}{% if not loop.last %} and {% endif %}
    {%- endfor %};

    insert into {{ target }} ({{ columns }})
    select {{ columns }}
    from {{ batch }}
{% endmacro %}
