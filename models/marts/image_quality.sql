-- The public contract: one row per file path present now, with its content's
-- quality label, class probabilities and main metrics.

{%- set model = image_quality.gaussian_nb_model(ref('gaussian_nb_params')) %}

with files as (
    select * from {{ ref('stg_raw__files') }}
),

runs as (
    select * from {{ ref('stg_raw__load_runs') }}
),

features as (
    select * from {{ ref('int_image_features') }}
),

scores as (
    select * from {{ ref('image_scores') }}
),

present_files as (
    select * from files
    where is_current
),

first_seen as (
    select
        path,
        min(valid_from_run) as first_seen_run
    from files
    group by path
),

final as (
    select
        -- keys
        present_files.path,
        present_files.content_hash,
        -- quality
        scores.quality_label,
        {% for class_label in model.classes -%}
        scores.p_{{ class_label }},
        {% endfor -%}
        case
            when scores.content_hash is not null then 'scored'
            when features.content_hash is not null then 'missing_features'
            else 'not_measured'
        end as score_status,
        -- main metrics
        features.laplacian_var,
        features.sobel_x_var,
        features.sobel_y_var,
        features.fft_hf_mean,
        features.width,
        features.height,
        features.image_format,
        features.brightness_mean,
        -- file
        present_files.source_root,
        present_files.size_bytes,
        -- history
        first_seen_run.started_at as first_seen_at,
        changed_run.started_at as last_changed_at,
        present_files.valid_from_run as last_changed_run,
        -- lineage
        scores.model_version,
        features.feature_versions,
        scores.scored_at
    from present_files
    inner join first_seen
        on first_seen.path = present_files.path
    left join runs as first_seen_run
        on first_seen_run.run_id = first_seen.first_seen_run
    left join runs as changed_run
        on changed_run.run_id = present_files.valid_from_run
    left join features
        on features.content_hash = present_files.content_hash
    left join scores
        on scores.content_hash = present_files.content_hash
)

select * from final
