with source as (
    select * from {{ source('raw', 'metric_blur_effect') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- measures
        cast(blur_effect as double) as blur_effect,
        cast(blur_effect_min as double) as blur_effect_min,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
