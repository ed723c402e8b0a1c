-- The loader's path history, one row per interval in which a path held one
-- content: when it began and ended (run and time) and what began and ended it.

with files as (
    select * from {{ ref('stg_raw__files') }}
),

runs as (
    select * from {{ ref('stg_raw__load_runs') }}
),

neighbours as (
    select
        files.*,
        lag(valid_to_run) over (partition by path order by valid_from_run) as previous_valid_to_run,
        lead(valid_from_run) over (partition by path order by valid_from_run) as next_valid_from_run
    from files
),

final as (
    select
        -- keys
        neighbours.path,
        neighbours.valid_from_run,
        -- content
        neighbours.content_hash,
        neighbours.source_root,
        neighbours.size_bytes,
        -- interval
        neighbours.valid_to_run,
        from_run.started_at as valid_from_at,
        to_run.started_at as valid_to_at,
        neighbours.is_current,
        -- what began and ended the interval
        case
            when neighbours.previous_valid_to_run is null then 'added'
            when neighbours.previous_valid_to_run = neighbours.valid_from_run then 'changed'
            else 'restored'
        end as began_by,
        case
            when neighbours.valid_to_run is null then null
            when neighbours.next_valid_from_run = neighbours.valid_to_run then 'changed'
            else 'removed'
        end as ended_by
    from neighbours
    left join runs as from_run
        on from_run.run_id = neighbours.valid_from_run
    left join runs as to_run
        on to_run.run_id = neighbours.valid_to_run
)

select * from final
