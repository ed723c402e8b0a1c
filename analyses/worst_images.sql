-- The 50 images most likely to be unusable: highest probability of any class
-- but sharp, most confident first, with the model's features beside them
-- (whatever features the seed names).

{%- set model = image_quality.gaussian_nb_model(ref('gaussian_nb_params')) %}

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
        {% for feature in model.features if feature not in ['width', 'height'] -%}
        {{ feature }},
        {% endfor -%}
        width,
        height
    from images
    where quality_label <> 'sharp'
    order by p_not_sharp desc, path
    limit 50
)

select * from final
