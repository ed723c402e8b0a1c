with source as (
    select * from {{ source('raw', 'image_properties') }}
),

ranked as (
    -- a version bump adds rows beside the old ones: the highest version is current
    select
        *,
        row_number() over (
            partition by content_hash order by metric_version desc
        ) as version_rank
    from source
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- as stored
        format as image_format,
        width,
        height,
        colour_mode,
        channels,
        frames,
        -- as measured
        analysis_width,
        analysis_height,
        cast(brightness_mean as double precision) as brightness_mean,
        cast(brightness_p01 as double precision) as brightness_p01,
        cast(brightness_p99 as double precision) as brightness_p99,
        -- lineage
        version_rank = 1 as is_current_version,
        computed_run,
        computed_at
    from ranked
)

select * from renamed
