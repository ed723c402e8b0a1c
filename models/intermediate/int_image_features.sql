-- One row per content hash: every metric family at its current version, side by
-- side. A family that failed for a hash leaves its columns null here; scoring
-- skips a hash that lacks a feature the model needs.

with laplacian as (
    select * from {{ ref('stg_raw__metric_laplacian') }}
    where is_current_version
),

sobel as (
    select * from {{ ref('stg_raw__metric_sobel') }}
    where is_current_version
),

fft as (
    select * from {{ ref('stg_raw__metric_fft') }}
    where is_current_version
),

directional_sharpness as (
    select * from {{ ref('stg_raw__metric_directional_sharpness') }}
    where is_current_version
),

screen_texture as (
    select * from {{ ref('stg_raw__metric_screen_texture') }}
    where is_current_version
),

blur_effect as (
    select * from {{ ref('stg_raw__metric_blur_effect') }}
    where is_current_version
),

information as (
    select * from {{ ref('stg_raw__metric_information') }}
    where is_current_version
),

fingerprint as (
    select * from {{ ref('stg_raw__metric_fingerprint') }}
    where is_current_version
),

image_properties as (
    select * from {{ ref('stg_raw__image_properties') }}
    where is_current_version
),

measured_content as (
    select content_hash from laplacian
    union
    select content_hash from sobel
    union
    select content_hash from fft
    union
    select content_hash from directional_sharpness
    union
    select content_hash from screen_texture
    union
    select content_hash from blur_effect
    union
    select content_hash from information
    union
    select content_hash from fingerprint
    union
    select content_hash from image_properties
),

joined as (
    select
        -- keys
        measured_content.content_hash,
        -- blur and moire measures
        laplacian.laplacian_var,
        sobel.sobel_x_var,
        sobel.sobel_y_var,
        sobel.sobel_magnitude_mean,
        sobel.sobel_magnitude_var,
        fft.fft_hf_mean,
        directional_sharpness.dir_sharpness_min,
        directional_sharpness.dir_sharpness_max,
        screen_texture.texture_excess_max,
        screen_texture.texture_excess_mean,
        blur_effect.blur_effect,
        blur_effect.blur_effect_min,
        -- information
        information.grey_entropy,
        -- fingerprints
        fingerprint.pixel_hash,
        fingerprint.perceptual_hash,
        -- image properties
        image_properties.image_format,
        image_properties.width,
        image_properties.height,
        image_properties.colour_mode,
        image_properties.channels,
        image_properties.frames,
        image_properties.analysis_width,
        image_properties.analysis_height,
        image_properties.brightness_mean,
        image_properties.brightness_p01,
        image_properties.brightness_p99,
        -- feature versions, one per family, and all of them as one comparable string
        blur_effect.metric_version as blur_effect_version,
        directional_sharpness.metric_version as directional_sharpness_version,
        fft.metric_version as fft_version,
        fingerprint.metric_version as fingerprint_version,
        image_properties.metric_version as image_properties_version,
        information.metric_version as information_version,
        laplacian.metric_version as laplacian_version,
        screen_texture.metric_version as screen_texture_version,
        sobel.metric_version as sobel_version
    from measured_content
    left join laplacian on laplacian.content_hash = measured_content.content_hash
    left join sobel on sobel.content_hash = measured_content.content_hash
    left join fft on fft.content_hash = measured_content.content_hash
    left join directional_sharpness on directional_sharpness.content_hash = measured_content.content_hash
    left join screen_texture on screen_texture.content_hash = measured_content.content_hash
    left join blur_effect on blur_effect.content_hash = measured_content.content_hash
    left join information on information.content_hash = measured_content.content_hash
    left join fingerprint on fingerprint.content_hash = measured_content.content_hash
    left join image_properties on image_properties.content_hash = measured_content.content_hash
),

final as (
    select
        *,
        'blur_effect=' || coalesce(cast(blur_effect_version as {{ dbt.type_string() }}), 'none')
            || ';directional_sharpness=' || coalesce(cast(directional_sharpness_version as {{ dbt.type_string() }}), 'none')
            || ';fft=' || coalesce(cast(fft_version as {{ dbt.type_string() }}), 'none')
            || ';fingerprint=' || coalesce(cast(fingerprint_version as {{ dbt.type_string() }}), 'none')
            || ';image_properties=' || coalesce(cast(image_properties_version as {{ dbt.type_string() }}), 'none')
            || ';information=' || coalesce(cast(information_version as {{ dbt.type_string() }}), 'none')
            || ';laplacian=' || coalesce(cast(laplacian_version as {{ dbt.type_string() }}), 'none')
            || ';screen_texture=' || coalesce(cast(screen_texture_version as {{ dbt.type_string() }}), 'none')
            || ';sobel=' || coalesce(cast(sobel_version as {{ dbt.type_string() }}), 'none')
            as feature_versions
    from joined
)

select * from final
