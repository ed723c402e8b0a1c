with source as (
    select * from {{ source('raw', 'metric_edge_sharpness') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- measures
        cast(edge_sharpness as double) as edge_sharpness,
        cast(edge_sharpness_min_direction as double) as edge_sharpness_min_direction,
        cast(edge_density as double) as edge_density,
        cast(noise_sigma as double) as noise_sigma,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
