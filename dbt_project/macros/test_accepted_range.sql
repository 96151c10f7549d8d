{#- Generic test: every non-null `column_name` lies between `min_value` and `max_value` (either may be left
    out; `inclusive=false` excludes the bounds). Nulls are not_null's business. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none, inclusive=true) %}

{%- set outside = [] -%}
{%- if min_value is not none -%}
    {%- do outside.append(column_name ~ (' < ' if inclusive else ' <= ') ~ min_value) -%}
{%- endif -%}
{%- if max_value is not none -%}
    {%- do outside.append(column_name ~ (' > ' if inclusive else ' >= ') ~ max_value) -%}
{%- endif -%}
{%- if not outside -%}
    {{ exceptions.raise_compiler_error(
        "accepted_range on " ~ model ~ "." ~ column_name ~ ": give min_value, max_value or both"
    ) }}
{%- endif %}

select {{ column_name }}
from {{ model }}
where {{ outside | join(' or ') }}

{% endtest %}
