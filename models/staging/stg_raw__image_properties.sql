with source as (
    select * from {{ source('raw', 'image_properties') }}
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
        cast(brightness_mean as double) as brightness_mean,
        cast(brightness_p01 as double) as brightness_p01,
        cast(brightness_p99 as double) as brightness_p99,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
