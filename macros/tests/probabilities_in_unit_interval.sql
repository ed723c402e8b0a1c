{#-
    Fails on every row where a probability column (every column named
    <prefix><class>) is null, NaN, below 0 or above 1. Only rows meeting
    `condition` (SQL), when given, are checked.
-#}

{% test probabilities_in_unit_interval(model, column_prefix='p_', condition=none) %}

{%- set columns = image_quality.columns_with_prefix(model, column_prefix) -%}

{%- if execute and columns | length == 0 %}
    {{ exceptions.raise_compiler_error("no column of " ~ model ~ " starts with '" ~ column_prefix ~ "'") }}
{%- endif %}

with checked as (
    select * from {{ model }}
    {% if condition %}where {{ condition }}{% endif %}
)

select *
from checked
where false
    {% for column in columns -%}
    or {{ column }} is null
    or not {{ image_quality.is_finite(column) }}
    or {{ column }} < 0
    or {{ column }} > 1
    {% endfor %}

{% endtest %}
