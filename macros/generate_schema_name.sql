{#-
    Models land in the schema their folder names (staging, intermediate, marts;
    seeds in model) rather than dbt's default "<target schema>_<custom schema>",
    so analysts query marts.image_quality whatever the target.
-#}

{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
