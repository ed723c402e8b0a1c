-- Images failing any check (too dark, too bright, low information, odd size,
-- odd aspect ratio, exact or near duplicate), most
-- failures first, with the measures the checks rest on. Thresholds are dbt vars:
-- dbt compile --vars '{odd_aspect_ratio_above: 4}' changes what fails.

with images as (
    select * from {{ ref('image_quality') }}
),

final as (
    select
        path,
        failed_checks,
        failed_check_count,
        quality_label,
        brightness_p01,
        brightness_p99,
        grey_entropy,
        width,
        height,
        aspect_ratio,
        exact_duplicate_count,
        near_duplicate_count,
        near_duplicate_min_distance
    from images
    where failed_check_count > 0
    order by failed_check_count desc, path
)

select * from final
