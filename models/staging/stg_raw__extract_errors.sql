with source as (
    select * from {{ source('raw', 'extract_errors') }}
),

renamed as (
    select
        -- keys
        run_id,
        path,
        stage as error_stage,
        family as metric_family,
        family_version as metric_version,
        -- content, when the bytes were read
        content_hash,
        -- the error
        error_kind,
        message as error_message,
        recorded_at
    from source
)

select * from renamed
