with source as (
    select * from {{ source('raw', 'metric_directional_sharpness') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- measures
        cast(dir_sharpness_min as double) as dir_sharpness_min,
        cast(dir_sharpness_max as double) as dir_sharpness_max,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
