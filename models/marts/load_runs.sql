-- One row per load run (each `image-quality extract`), newest last: when it
-- ran, how it ended and what it found. The marts' face on raw.load_runs, so
-- readers of the marts (the HTML report) never need schema raw.

with runs as (
    select * from {{ ref('stg_raw__load_runs') }}
),

final as (
    select
        -- keys
        run_id,
        -- status
        run_status,
        started_at,
        finished_at,
        run_message,
        -- what the run looked at
        source_roots,
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
    from runs
)

select * from final
