{#- True when a double is a real number: not NaN, not +/-infinity, not null. -#}

{% macro is_finite(expression) -%}
    {{ return(adapter.dispatch('is_finite', 'image_quality')(expression)) }}
{%- endmacro %}

{% macro default__is_finite(expression) -%}
    {#- NaN sorts above every number in most engines and fails both comparisons elsewhere -#}
    ({{ expression }} >= -1.7976931348623157e308 and {{ expression }} <= 1.7976931348623157e308)
{%- endmacro %}

{% macro duckdb__is_finite(expression) -%}
    coalesce(isfinite({{ expression }}), false)
{%- endmacro %}
