-- Pairs of present images that look alike: perceptual hashes at most
-- var('near_duplicate_max_distance') bits apart, one row per pair of contents.
--
-- Candidates come from blocking, not a cross join: the 64-bit hash is cut into
-- 8 bands of 8 bits, and two hashes that differ in at most 7 bits agree exactly
-- on at least one band (pigeonhole: 7 differing bits cannot touch all 8 bands).
-- Joining on (band_index, band_value) therefore finds every pair within 7 bits
-- while comparing only hashes that share a band.
--
-- Pixel-identical contents (same pixel_hash: a lossless re-save, a metadata
-- edit) have equal perceptual hashes, so they are here too, at distance 0 with
-- is_exact_duplicate: one table answers "what looks like this?".

{%- set band_bits = 8 %}
{%- set band_count = 64 // band_bits %}
{%- set max_distance = var('near_duplicate_max_distance') | int %}
{%- if max_distance < 0 or max_distance >= band_count %}
    {{ exceptions.raise_compiler_error(
        "near_duplicate_max_distance must lie in [0, " ~ (band_count - 1) ~ "]: blocking on "
        ~ band_count ~ " bands finds every pair within " ~ (band_count - 1) ~ " bits, and no more"
    ) }}
{%- endif %}

with files as (
    select * from {{ ref('stg_raw__files') }}
),

features as (
    select * from {{ ref('int_image_features') }}
),

present_content as (
    select
        content_hash,
        min(path) as first_path
    from files
    where is_current
    group by content_hash
),

fingerprints as (
    select
        present_content.content_hash,
        present_content.first_path,
        features.pixel_hash,
        features.perceptual_hash
    from present_content
    inner join features
        on features.content_hash = present_content.content_hash
    where features.perceptual_hash is not null
),

bands as (
    -- one row per content and band
    {% for band_index in range(band_count) -%}
    select
        content_hash,
        perceptual_hash,
        {{ band_index }} as band_index,
        {{ image_quality.hash_band('perceptual_hash', band_index, band_bits) }} as band_value
    from fingerprints
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}
),

candidates as (
    -- every pair of contents sharing a band, once per shared band
    select
        band_a.content_hash as content_hash_a,
        band_b.content_hash as content_hash_b,
        {{ image_quality.hamming_distance('band_a.perceptual_hash', 'band_b.perceptual_hash') }} as hamming_distance
    from bands as band_a
    inner join bands as band_b
        on band_b.band_index = band_a.band_index
        and band_b.band_value = band_a.band_value
        and band_b.content_hash > band_a.content_hash
),

close_pairs as (
    select distinct
        content_hash_a,
        content_hash_b,
        hamming_distance
    from candidates
    where hamming_distance <= {{ max_distance }}
),

final as (
    select
        -- keys
        close_pairs.content_hash_a,
        close_pairs.content_hash_b,
        -- likeness
        close_pairs.hamming_distance,
        image_a.pixel_hash = image_b.pixel_hash as is_exact_duplicate,
        -- where to look: the first present path holding each content
        image_a.first_path as path_a,
        image_b.first_path as path_b
    from close_pairs
    inner join fingerprints as image_a
        on image_a.content_hash = close_pairs.content_hash_a
    inner join fingerprints as image_b
        on image_b.content_hash = close_pairs.content_hash_b
)

select * from final
