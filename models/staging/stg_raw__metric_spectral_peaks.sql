with source as (
    select * from {{ source('raw', 'metric_spectral_peaks') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- measures
        cast(peak_prominence as double) as peak_prominence,
        cast(peak_prominence_max as double) as peak_prominence_max,
        cast(peak_excess as double) as peak_excess,
        cast(peak_excess_max as double) as peak_excess_max,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
