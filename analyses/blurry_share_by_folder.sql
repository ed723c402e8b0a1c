-- Share of blurry (and moire) images per folder, worst folders first.

with images as (
    select * from {{ ref('image_quality') }}
    where score_status = 'scored'
),

with_folder as (
    select
        {{ image_quality.folder_of('path') }} as folder,
        quality_label
    from images
),

final as (
    select
        folder,
        count(*) as images,
        avg(case when quality_label = 'blurry' then 1.0 else 0.0 end) as blurry_share,
        avg(case when quality_label = 'moire' then 1.0 else 0.0 end) as moire_share
    from with_folder
    group by folder
    order by blurry_share desc, images desc
)

select * from final
