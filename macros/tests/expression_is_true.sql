{#-
    Fails on every row where the SQL boolean expression is false or null, e.g.
    `content_hash_a < content_hash_b` for an ordered pair. Only rows meeting
    `condition` (SQL), when given, are checked.
-#}

{% test expression_is_true(model, expression, condition=none) %}

with checked as (
    select * from {{ model }}
    {% if condition %}where {{ condition }}{% endif %}
)

select *
from checked
where not coalesce({{ expression }}, false)

{% endtest %}
