-- The public contract: one row per file path present now, with its content's
-- quality label, class probabilities, the model's features (whatever features
-- the seed names), why an image was not scored, and the checks CleanVision and
-- fastdup users expect (thresholds: dbt vars).

{%- set model = image_quality.gaussian_nb_model(ref('gaussian_nb_params')) %}
{%- set checks = ['too_dark', 'too_bright', 'low_information', 'odd_size', 'odd_aspect_ratio',
                  'exact_duplicate', 'near_duplicate'] %}
{#- columns selected below in their own sections: a feature of that name is not repeated -#}
{%- set named_elsewhere = ['width', 'height', 'image_format', 'brightness_mean', 'brightness_p01',
                           'brightness_p99', 'grey_entropy', 'pixel_count', 'aspect_ratio', 'channels',
                           'pixel_hash', 'perceptual_hash', 'size_bytes'] %}

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

image_checks as (
    select * from {{ ref('int_image_checks') }}
),

near_duplicate_pairs as (
    select * from {{ ref('near_duplicate_pairs') }}
),

content_errors as (
    select * from {{ ref('int_content_errors_latest') }}
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

present_content as (
    select
        present_files.content_hash,
        cast(count(*) as bigint) as path_count,
        max(features.pixel_hash) as pixel_hash
    from present_files
    left join features
        on features.content_hash = present_files.content_hash
    group by present_files.content_hash
),

pixel_groups as (
    -- present paths per decoded picture: byte-identical copies and files that
    -- differ in bytes only (metadata, lossless re-save) fall in one group
    select
        pixel_hash,
        cast(sum(path_count) as bigint) as path_count
    from present_content
    where pixel_hash is not null
    group by pixel_hash
),

near_duplicate_partners as (
    -- both ends of every pair that looks alike without being pixel-identical
    select content_hash_a as content_hash, content_hash_b as partner_hash, hamming_distance
    from near_duplicate_pairs
    where not is_exact_duplicate
    union all
    select content_hash_b as content_hash, content_hash_a as partner_hash, hamming_distance
    from near_duplicate_pairs
    where not is_exact_duplicate
),

near_duplicates as (
    select
        near_duplicate_partners.content_hash,
        cast(sum(partner.path_count) as bigint) as path_count,
        min(near_duplicate_partners.hamming_distance) as min_distance
    from near_duplicate_partners
    inner join present_content as partner
        on partner.content_hash = near_duplicate_partners.partner_hash
    group by near_duplicate_partners.content_hash
),

checked as (
    select
        -- keys
        present_files.path,
        -- checks
        image_checks.is_too_dark,
        image_checks.is_too_bright,
        image_checks.is_low_information,
        image_checks.is_odd_size,
        image_checks.is_odd_aspect_ratio,
        pixel_groups.path_count > 1 as is_exact_duplicate,
        case
            when features.perceptual_hash is null then null
            else near_duplicates.content_hash is not null
        end as is_near_duplicate,
        -- what the checks rest on
        image_checks.brightness_p01,
        image_checks.brightness_p99,
        image_checks.grey_entropy,
        image_checks.pixel_count,
        image_checks.aspect_ratio,
        image_checks.channels,
        features.pixel_hash,
        pixel_groups.path_count - 1 as exact_duplicate_count,
        features.perceptual_hash,
        case
            when features.perceptual_hash is null then null
            else coalesce(near_duplicates.path_count, 0)
        end as near_duplicate_count,
        near_duplicates.min_distance as near_duplicate_min_distance
    from present_files
    left join features
        on features.content_hash = present_files.content_hash
    left join image_checks
        on image_checks.content_hash = present_files.content_hash
    left join pixel_groups
        on pixel_groups.pixel_hash = features.pixel_hash
    left join near_duplicates
        on near_duplicates.content_hash = present_files.content_hash
),

failed as (
    -- the failed checks, named; a check that could not be made (null) has not failed
    select
        checked.*,
        {% for check in checks -%}
        case when is_{{ check }} then 1 else 0 end{{ ' +' if not loop.last else ' as failed_check_count,' }}
        {% endfor -%}
        nullif(replace(trim(
            {% for check in checks -%}
            case when is_{{ check }} then '{{ check }} ' else '' end{{ ' ||' if not loop.last }}
            {% endfor -%}
        ), ' ', ', '), '') as failed_checks
    from checked
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
        -- why not scored: the latest error recorded for the content (null when scored)
        case when scores.content_hash is null then content_errors.error_kind end as error_kind,
        case when scores.content_hash is null then content_errors.error_message end as error_message,
        -- the model's features, as the seed names them
        {% for feature in model.features if feature not in named_elsewhere -%}
        features.{{ feature }},
        {% endfor -%}
        -- image
        features.width,
        features.height,
        features.image_format,
        features.brightness_mean,
        -- checks (null when a measure they need is missing)
        {% for check in checks -%}
        failed.is_{{ check }},
        {% endfor -%}
        failed.failed_checks,
        failed.failed_check_count,
        -- what the checks rest on
        failed.brightness_p01,
        failed.brightness_p99,
        failed.grey_entropy,
        failed.pixel_count,
        failed.aspect_ratio,
        failed.channels,
        failed.pixel_hash,
        failed.exact_duplicate_count,
        failed.perceptual_hash,
        failed.near_duplicate_count,
        failed.near_duplicate_min_distance,
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
    left join content_errors
        on content_errors.content_hash = present_files.content_hash
    inner join failed
        on failed.path = present_files.path
)

select * from final
