{#-
    Fails on every row whose value is NaN, infinite, or outside
    [min_value, max_value] (either bound may be left out). Nulls pass: not_null
    says whether a column may be null.
-#}

{% test finite_and_within(model, column_name, min_value=none, max_value=none) %}

with checked as (
    select {{ column_name }} as checked_value
    from {{ model }}
    where {{ column_name }} is not null
)

select *
from checked
where not {{ image_quality.is_finite('checked_value') }}
    {% if min_value is not none %}or checked_value < {{ min_value }}{% endif %}
    {% if max_value is not none %}or checked_value > {{ max_value }}{% endif %}

{% endtest %}
