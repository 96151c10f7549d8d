{#- The join of a point-in-time spine (`spine`: one row per `entity` and `as_of_date`) to the rows of
    `relation` dated in [as_of_date - `since`, as_of_date - `until`) and known (landed, `known_date`) before
    the as-of date. `since` none: no lower bound; `until` none: up to the as-of date. -#}
{% macro known_window(relation, date_column, since=none, until=none, entity='seller_id') -%}
    inner join {{ relation }}
        on spine.{{ entity }} = {{ relation }}.{{ entity }}
        {%- if since %}
        and {{ relation }}.{{ date_column }} >= spine.as_of_date - interval '{{ since }}'
        {%- endif %}
        and {{ relation }}.{{ date_column }} < spine.as_of_date{% if until %} - interval '{{ until }}'{% endif %}
        and {{ relation }}.known_date < spine.as_of_date
{%- endmacro %}
