{#- Generic test: `expression` (SQL over the model's columns) holds on every row; a row where it is null
    passes, as in a CHECK constraint. On a column, the column name is put in front: `expression: ">= 0"`. -#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not ({{ column_name ~ ' ' if column_name else '' }}{{ expression }})

{% endtest %}
