{#-
    Fails on every row whose probabilities (the columns named <prefix><class>)
    do not add up to 1 within `tolerance`, or cannot be added up (null, NaN).
    Only rows meeting `condition` (SQL), when given, are checked. With
    `null_as_zero`, a null column counts as 0: for tables holding rows of
    models with different classes, where a class a model lacks is null.
-#}

{% test probabilities_sum_to_one(model, column_prefix='p_', tolerance=1e-9, condition=none, null_as_zero=false) %}

{%- set columns = image_quality.columns_with_prefix(model, column_prefix) -%}

{%- if execute and columns | length == 0 %}
    {{ exceptions.raise_compiler_error("no column of " ~ model ~ " starts with '" ~ column_prefix ~ "'") }}
{%- endif %}

with summed as (
    select
        *,
        {% for column in columns -%}
        {{ 'coalesce(' ~ column ~ ', 0)' if null_as_zero else column }}{{ ' + ' if not loop.last }}
        {%- endfor %} as probability_sum
    from {{ model }}
    {% if condition %}where {{ condition }}{% endif %}
)

select *
from summed
where probability_sum is null
    or not {{ image_quality.is_finite('probability_sum') }}
    or abs(probability_sum - 1) > {{ tolerance }}

{% endtest %}
