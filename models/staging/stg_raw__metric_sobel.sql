with source as (
    select * from {{ source('raw', 'metric_sobel') }}
),

renamed as (
    select
        -- keys
        content_hash,
        metric_version,
        -- measures
        cast(sobel_x_var as double) as sobel_x_var,
        cast(sobel_y_var as double) as sobel_y_var,
        cast(sobel_magnitude_mean as double) as sobel_magnitude_mean,
        cast(sobel_magnitude_var as double) as sobel_magnitude_var,
        -- lineage
        {{ is_current_metric_version() }} as is_current_version,
        computed_run,
        computed_at
    from source
)

select * from renamed
