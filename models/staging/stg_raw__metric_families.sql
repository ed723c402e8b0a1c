with source as (
    select * from {{ source('raw', 'metric_families') }}
),

renamed as (
    select
        -- keys
        family as metric_family,
        version as metric_version,
        -- storage
        table_name,
        columns as column_names,
        -- lineage
        first_run
    from source
)

select * from renamed
