{#-
    One band of a 64-bit hash: the band_index-th group of band_bits bits, counted
    from the most significant, as an integer in [0, 2^band_bits). Near-duplicate
    search joins on bands: hashes within band_count - 1 bits of each other agree
    on at least one band.
-#}

{% macro hash_band(hash, band_index, band_bits=8) -%}
    {{ return(adapter.dispatch('hash_band', 'image_quality')(hash, band_index, band_bits)) }}
{%- endmacro %}

{% macro default__hash_band(hash, band_index, band_bits) -%}
    {%- if band_bits > 32 or 64 % band_bits != 0 or band_index < 0 or band_index >= 64 // band_bits -%}
        {{ exceptions.raise_compiler_error("hash_band: band_bits must divide 64 (at most 32) and band_index lie in [0, 64 / band_bits)") }}
    {%- endif -%}
    {#- the mask drops the sign bits an arithmetic shift of a negative hash brings in -#}
    (({{ hash }} >> {{ 64 - band_bits * (band_index + 1) }}) & {{ 2 ** band_bits - 1 }})
{%- endmacro %}
