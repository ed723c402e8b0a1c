with source as (
    select * from {{ source('raw', 'metric_fingerprint') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- fingerprints
        pixel_hash,
        cast(perceptual_hash as bigint) as perceptual_hash,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
