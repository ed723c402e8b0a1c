with source as (
    select * from {{ source('raw', 'metric_screen_texture') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- measures
        cast(texture_excess_max as double) as texture_excess_max,
        cast(texture_excess_mean as double) as texture_excess_mean,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
