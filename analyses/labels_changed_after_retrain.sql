-- Images whose label changed when the model was retrained: for each content,
-- its latest score against the one before it (same features, earlier model).

with history as (
    select * from {{ ref('image_score_history') }}
),

images as (
    select * from {{ ref('image_quality') }}
),

ordered as (
    select
        content_hash,
        model_version,
        feature_versions,
        quality_label,
        scored_at,
        lag(model_version) over (
            partition by content_hash, feature_versions order by scored_at
        ) as previous_model_version,
        lag(quality_label) over (
            partition by content_hash, feature_versions order by scored_at
        ) as previous_label
    from history
),

final as (
    select
        images.path,
        ordered.previous_model_version,
        ordered.previous_label,
        ordered.model_version,
        ordered.quality_label,
        ordered.scored_at
    from ordered
    inner join images
        on images.content_hash = ordered.content_hash
    where ordered.previous_model_version is not null
        and ordered.previous_label <> ordered.quality_label
    order by ordered.scored_at desc, images.path
)

select * from final
