{#-
    Names of the relation's columns that start with a prefix, in table order
    (e.g. the p_<class> columns a model gives). Empty at parse time.
-#}

{% macro columns_with_prefix(relation, prefix) -%}
    {{ return(adapter.dispatch('columns_with_prefix', 'image_quality')(relation, prefix)) }}
{%- endmacro %}

{% macro default__columns_with_prefix(relation, prefix) -%}
    {%- set names = [] -%}
    {%- if execute -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- if column.name.lower().startswith(prefix) -%}
                {%- do names.append(column.name) -%}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {{ return(names) }}
{%- endmacro %}
