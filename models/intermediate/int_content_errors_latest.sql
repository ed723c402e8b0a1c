-- One row per content hash that met an error: the latest one, so an image that
-- was not measured or scored can say why in marts.image_quality without an
-- analyst joining raw.extract_errors. Errors before the bytes were read carry no
-- content hash and are not here (the file has no row in raw.files either).

with errors as (
    select * from {{ ref('stg_raw__extract_errors') }}
    where content_hash is not null
),

ranked as (
    select
        errors.*,
        row_number() over (
            partition by content_hash
            order by run_id desc, recorded_at desc, error_stage, metric_family, path
        ) as recency
    from errors
),

final as (
    select
        -- keys
        content_hash,
        -- the error
        error_kind,
        error_message,
        error_stage,
        metric_family,
        -- lineage
        run_id as error_run_id,
        path as error_path,
        recorded_at as error_recorded_at
    from ranked
    where recency = 1
)

select * from final
