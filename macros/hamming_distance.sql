{#-
    Number of bits in which two 64-bit integers differ (the Hamming distance of
    two perceptual hashes stored as signed bigints).
-#}

{% macro hamming_distance(a, b) -%}
    {{ return(adapter.dispatch('hamming_distance', 'image_quality')(a, b)) }}
{%- endmacro %}

{% macro default__hamming_distance(a, b) -%}
    {#-
        Only |, &, - and >> on bigint. (a | b) - (a & b) is a xor b, exactly, in
        two's complement; then each of the 64 bits is shifted down and counted
        (an arithmetic shift keeps the sign bit, and & 1 keeps the counted bit only).
    -#}
    {%- set difference = '((' ~ a ~ ' | ' ~ b ~ ') - (' ~ a ~ ' & ' ~ b ~ '))' -%}
    cast(
        {% for bit in range(64) -%}
        (({{ difference }} >> {{ bit }}) & 1){{ ' +' if not loop.last }}
        {% endfor -%}
    as integer)
{%- endmacro %}

{% macro duckdb__hamming_distance(a, b) -%}
    cast(bit_count(xor({{ a }}, {{ b }})) as integer)
{%- endmacro %}

{% macro spark__hamming_distance(a, b) -%}
    cast(bit_count({{ a }} ^ {{ b }}) as int)
{%- endmacro %}
