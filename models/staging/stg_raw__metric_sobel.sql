with source as (
    select * from {{ source('raw', 'metric_sobel') }}
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
        cast(sobel_x_var as double precision) as sobel_x_var,
        cast(sobel_y_var as double precision) as sobel_y_var,
        cast(sobel_magnitude_mean as double precision) as sobel_magnitude_mean,
        cast(sobel_magnitude_var as double precision) as sobel_magnitude_var,
        -- lineage
        version_rank = 1 as is_current_version,
        computed_run,
        computed_at
    from ranked
)

select * from renamed
