{#-
    Fails (one row per value) when the column holds more than one distinct
    value, e.g. a parameters seed that mixes two model versions.
-#}

{% test single_value(model, column_name) %}

with distinct_values as (
    select distinct {{ column_name }} as column_value
    from {{ model }}
)

select column_value
from distinct_values
where (select count(*) from distinct_values) > 1

{% endtest %}
