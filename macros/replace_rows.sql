{#-
    How an incremental model replaces the rows of content it scores again
    (image_scores: new content, changed features, a retrained model).

    DuckDB (default): delete+insert on the unique key; the model emits only the
    rows it scores. Spark on plain Parquet has no delete or merge (those need
    Delta, Iceberg or Hudi): insert_overwrite of the partitions that hold
    rescored rows, so the model also emits the other rows of those partitions
    (rows_kept_beside_replaced), which a partition rewrite would drop otherwise.
-#}

{% macro replace_rows_strategy() -%}
    {{ return(adapter.dispatch('replace_rows_strategy', 'image_quality')()) }}
{%- endmacro %}

{% macro default__replace_rows_strategy() -%}
    {{ return('delete+insert') }}
{%- endmacro %}

{% macro spark__replace_rows_strategy() -%}
    {{ return('insert_overwrite') }}
{%- endmacro %}


{% macro replace_rows_partition_by(partition_column) -%}
    {{ return(adapter.dispatch('replace_rows_partition_by', 'image_quality')(partition_column)) }}
{%- endmacro %}

{% macro default__replace_rows_partition_by(partition_column) -%}
    {{ return(none) }}
{%- endmacro %}

{% macro spark__replace_rows_partition_by(partition_column) -%}
    {{ return([partition_column]) }}
{%- endmacro %}


{#- SQL to append after the model's final select: nothing, or (Spark) a union
    all of the existing rows that share a partition with a replaced row
    without being replaced themselves. The partition column comes last in both. -#}
{% macro rows_kept_beside_replaced(new_rows, unique_key, partition_column) -%}
    {{ return(adapter.dispatch('rows_kept_beside_replaced', 'image_quality')(new_rows, unique_key, partition_column)) }}
{%- endmacro %}

{% macro default__rows_kept_beside_replaced(new_rows, unique_key, partition_column) -%}
{%- endmacro %}

{% macro spark__rows_kept_beside_replaced(new_rows, unique_key, partition_column) -%}
    {%- if is_incremental() %}
union all
select existing.*
from {{ this }} as existing
where existing.{{ partition_column }} in (select {{ partition_column }} from {{ new_rows }})
    and existing.{{ unique_key }} not in (select {{ unique_key }} from {{ new_rows }})
    {%- endif %}
{%- endmacro %}
