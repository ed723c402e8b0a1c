{#-
    A feature transform by the name the model's parameters record. The Python
    twin is image_quality.feature_transforms.TRANSFORMS: both must compute the same numbers.
-#}

{% macro feature_transform(transform, expression) -%}
    {{ return(adapter.dispatch('feature_transform', 'image_quality')(transform, expression)) }}
{%- endmacro %}

{% macro default__feature_transform(transform, expression) -%}
    {%- if transform == 'identity' -%}
        cast({{ expression }} as double)
    {%- elif transform == 'ln_x_plus_1' -%}
        ln(cast({{ expression }} as double) + 1)
    {%- else -%}
        {{ exceptions.raise_compiler_error("unknown feature transform '" ~ transform ~ "' (known: identity, ln_x_plus_1)") }}
    {%- endif -%}
{%- endmacro %}
