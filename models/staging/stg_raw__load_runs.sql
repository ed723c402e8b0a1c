with source as (
    select * from {{ source('raw', 'load_runs') }}
),

renamed as (
    select
        -- keys
        run_id,
        -- status
        status as run_status,
        started_at,
        finished_at,
        message as run_message,
        -- what the run looked at
        sources as source_roots,
        tool_version,
        -- counts
        files_scanned,
        files_unchanged,
        files_read,
        images_decoded,
        paths_added,
        paths_changed,
        paths_removed,
        content_new,
        files_failed
    from source
)

select * from renamed
