with source as (
    select * from {{ source('raw', 'metric_colour') }}
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
        -- measures
        cast(chroma_mean as double precision) as chroma_mean,
        cast(chroma_p99 as double precision) as chroma_p99,
        cast(chroma_fine_energy as double precision) as chroma_fine_energy,
        -- lineage
        version_rank = 1 as is_current_version,
        computed_run,
        computed_at
    from ranked
)

select * from renamed
