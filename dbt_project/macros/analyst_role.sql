{#- The read-only `analyst` role: created before a run, given USAGE on the analyst-facing schemas after it.
    SELECT on each mart and feature table comes from the models' `grants` config (dbt_project.yml), so a
    rebuilt table never loses it. Analysts log in as their own users: `grant analyst to alice`. -#}
{% macro ensure_analyst_role() %}
do $$
begin
    create role analyst nologin;
exception when duplicate_object then null;  -- exists already (or another run created it just now)
end
$$;
{% endmacro %}

{% macro grant_analyst_usage(schemas) %}
do $$
declare schema_name text;
begin
    foreach schema_name in array array[{{ "'" ~ schemas | join("', '") ~ "'" }}] loop
        if exists (select from pg_namespace where nspname = schema_name) then
            execute format('grant usage on schema %I to analyst', schema_name);
        end if;
    end loop;
end
$$;
{% endmacro %}
