{{
    config(
        materialized='incremental',
        unique_key='content_hash',
        incremental_strategy=image_quality.replace_rows_strategy(),
        partition_by=image_quality.replace_rows_partition_by('score_bucket'),
        on_schema_change='sync_all_columns'
    )
}}

-- One row per content hash: the quality model's probabilities and label.
-- An incremental run scores only content that is new, or whose features or
-- model changed since it was scored: a retrained seed rescores every row.
-- Every measure a model may read is kept beside the scores (the seed names
-- which ones it reads), so a score can be checked against its inputs.

with features as (
    select * from {{ ref('int_image_features') }}
),

model as (
    select distinct model_version from {{ ref('gaussian_nb_params') }}
),

to_score as (
    select features.*
    from features
    {% if is_incremental() %}
    where not exists (
        select 1
        from {{ this }} as scored
        inner join model
            on model.model_version = scored.model_version
        where scored.content_hash = features.content_hash
            and scored.feature_versions = features.feature_versions
    )
    {% endif %}
),

scores as (
    {{ image_quality.gaussian_nb_score(
        features='to_score',
        key_columns=['content_hash'],
        params=ref('gaussian_nb_params'),
        label_column='quality_label'
    ) | indent(4) }}
),

final as (
    select
        -- keys, prediction and one p_<class> per class of the model
        scores.*,
        -- blur and moire measures
        to_score.laplacian_var,
        to_score.sobel_x_var,
        to_score.sobel_y_var,
        to_score.sobel_magnitude_mean,
        to_score.sobel_magnitude_var,
        to_score.fft_hf_mean,
        to_score.dir_sharpness_min,
        to_score.dir_sharpness_max,
        to_score.texture_excess_max,
        to_score.texture_excess_mean,
        to_score.blur_effect,
        to_score.blur_effect_min,
        -- information
        to_score.grey_entropy,
        -- image properties
        to_score.image_format,
        to_score.width,
        to_score.height,
        to_score.analysis_width,
        to_score.analysis_height,
        to_score.brightness_mean,
        to_score.brightness_p01,
        to_score.brightness_p99,
        -- lineage
        to_score.feature_versions,
        {{ dbt.current_timestamp() }} as scored_at,
        '{{ invocation_id }}' as dbt_invocation_id,
        -- storage: one of 16 partitions where the engine rewrites partitions (Spark)
        left(scores.content_hash, 1) as score_bucket
    from scores
    inner join to_score
        on to_score.content_hash = scores.content_hash
)

select * from final
{{- image_quality.rows_kept_beside_replaced('final', 'content_hash', 'score_bucket') }}
