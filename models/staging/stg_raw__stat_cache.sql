with source as (
    select * from {{ source('raw', 'stat_cache') }}
),

renamed as (
    select
        -- keys
        path,
        -- cached stat and content
        content_hash,
        size_bytes,
        mtime_ns,
        etag,
        -- lineage
        checked_run
    from source
)

select * from renamed
