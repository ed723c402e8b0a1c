-- One row per measured content hash: the checks CleanVision users expect that
-- depend on the image alone, each a boolean beside the measure it rests on.
-- Thresholds are dbt vars (dbt_project.yml). A check is null when a measure it
-- needs is missing (its family failed). Duplicates depend on the rest of the
-- collection: marts.image_quality and marts.near_duplicate_pairs add them.

with features as (
    select * from {{ ref('int_image_features') }}
),

measured as (
    select
        -- keys
        content_hash,
        -- brightness and information
        brightness_p01,
        brightness_p99,
        grey_entropy,
        -- size and shape
        width,
        height,
        cast(width as bigint) * cast(height as bigint) as pixel_count,
        case
            when width >= height then cast(width as double) / height
            else cast(height as double) / width
        end as aspect_ratio,
        channels
    from features
),

checked as (
    select
        -- keys
        content_hash,
        -- checks
        brightness_p99 < {{ var('too_dark_brightness_p99_below') }} as is_too_dark,
        brightness_p01 > {{ var('too_bright_brightness_p01_above') }} as is_too_bright,
        grey_entropy < {{ var('low_information_grey_entropy_below') }} as is_low_information,
        pixel_count < {{ var('odd_size_pixels_below') }}
            or pixel_count > {{ var('odd_size_pixels_above') }} as is_odd_size,
        aspect_ratio > {{ var('odd_aspect_ratio_above') }} as is_odd_aspect_ratio,
        -- what the checks rest on
        brightness_p01,
        brightness_p99,
        grey_entropy,
        width,
        height,
        pixel_count,
        aspect_ratio,
        channels
    from measured
)

select * from checked
