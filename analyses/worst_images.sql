-- The 50 images most likely to be unusable: highest probability of any class
-- but sharp, most confident first.

with images as (
    select * from {{ ref('image_quality') }}
    where score_status = 'scored'
),

final as (
    select
        path,
        quality_label,
        1 - p_sharp as p_not_sharp,
        p_blurry,
        p_moire,
        laplacian_var,
        fft_hf_mean,
        width,
        height
    from images
    where quality_label <> 'sharp'
    order by p_not_sharp desc, path
    limit 50
)

select * from final
