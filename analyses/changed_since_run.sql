-- What changed since run N (set with --vars '{since_run: N}'): paths added,
-- changed, restored or removed by a later run, with the label now held.

{%- set since_run = var('since_run', 1) %}

with history as (
    select * from {{ ref('file_history') }}
),

images as (
    select * from {{ ref('image_quality') }}
),

began as (
    select
        path,
        valid_from_run as run_id,
        valid_from_at as changed_at,
        began_by as change
    from history
    where valid_from_run > {{ since_run }}
),

ended as (
    -- a change also ends the previous interval; only removals are news here
    select
        path,
        valid_to_run as run_id,
        valid_to_at as changed_at,
        ended_by as change
    from history
    where valid_to_run > {{ since_run }}
        and ended_by = 'removed'
),

final as (
    select
        changes.run_id,
        changes.changed_at,
        changes.change,
        changes.path,
        images.quality_label as quality_label_now
    from (
        select * from began
        union all
        select * from ended
    ) as changes
    left join images
        on images.path = changes.path
    order by changes.run_id, changes.path
)

select * from final
