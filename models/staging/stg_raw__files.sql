with source as (
    select * from {{ source('raw', 'files') }}
),

renamed as (
    select
        -- keys
        path,
        valid_from_run,
        -- content
        content_hash,
        source_root,
        size_bytes,
        mtime_ns,
        -- objects only (s3:// paths): the change marker and the version read
        etag,
        version_id,
        -- validity interval
        valid_to_run,
        valid_to_run is null as is_current
    from source
)

select * from renamed
