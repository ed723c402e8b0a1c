{{
    config(
        materialized='incremental',
        incremental_strategy='append',
        on_schema_change='append_new_columns'
    )
}}

-- Append-only: every score image_scores ever held, one row per content hash,
-- model version and feature versions, so a retrain's label changes stay visible.

with scores as (
    select * from {{ ref('image_scores') }}
),

new_scores as (
    select scores.*
    from scores
    {% if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as history
        where history.content_hash = scores.content_hash
            and history.model_version = scores.model_version
            and history.feature_versions = scores.feature_versions
    )
    {% endif %}
),

final as (
    select * from new_scores
)

select * from final
