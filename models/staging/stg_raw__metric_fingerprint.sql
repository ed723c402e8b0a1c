with source as (
    select * from {{ source('raw', 'metric_fingerprint') }}
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
        -- fingerprints
        pixel_hash,
        cast(perceptual_hash as bigint) as perceptual_hash,
        -- lineage
        version_rank = 1 as is_current_version,
        computed_run,
        computed_at
    from ranked
)

select * from renamed
