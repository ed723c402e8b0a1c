{#- True on the row of a content hash's highest metric_version: a version bump
    adds rows beside the old ones, and the highest version is current. -#}
{% macro is_current_metric_version() -%}
    {{ return(adapter.dispatch('is_current_metric_version', 'image_quality')()) }}
{%- endmacro %}

{% macro default__is_current_metric_version() -%}
    row_number() over (partition by content_hash order by metric_version desc) = 1
{%- endmacro %}
