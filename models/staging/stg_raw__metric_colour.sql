with source as (
    select * from {{ source('raw', 'metric_colour') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- measures
        cast(chroma_mean as double) as chroma_mean,
        cast(chroma_p99 as double) as chroma_p99,
        cast(chroma_fine_energy as double) as chroma_fine_energy,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
