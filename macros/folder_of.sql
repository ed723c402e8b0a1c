{#- The folder part of a POSIX path, up to and including its last '/'. -#}

{% macro folder_of(path) -%}
    {{ return(adapter.dispatch('folder_of', 'image_quality')(path)) }}
{%- endmacro %}

{% macro default__folder_of(path) -%}
    left({{ path }}, length({{ path }}) - position('/' in reverse({{ path }})) + 1)
{%- endmacro %}
