with source as (
    select * from {{ source('raw', 'metric_fft') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- measures
        cast(fft_hf_mean as double) as fft_hf_mean,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
