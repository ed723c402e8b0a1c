-- Pairs of present images that look alike, one row per pair of paths to look at:
--   * look-alikes: two contents whose perceptual hashes are at most
--     var('near_duplicate_max_distance') bits apart (a re-encode, a resize);
--   * pixel-identical contents (same pixel_hash: a metadata edit, a lossless
--     re-save) are such pairs at distance 0, with is_exact_duplicate;
--   * byte-identical copies (one content hash under several paths): each further
--     path beside the content's first path, with is_same_content.
-- So one table answers "what looks like this?", copies included.
--
-- It stays linear in the number of images, however alike they are (thousands of
-- near-blank pages share one hash):
--   * Candidates come from blocking, not a cross join: the 64-bit hash is cut
--     into 8 bands of 8 bits, and two hashes at most 7 bits apart agree on at
--     least one band (pigeonhole). Within a band value shared by at most
--     var('near_duplicate_full_compare_up_to') contents, every two are compared:
--     exact, as a cross join would be. In a larger group each content is compared
--     with its var('near_duplicate_max_neighbours') next ones in perceptual-hash
--     order only.
--   * Each content keeps its var('near_duplicate_max_neighbours') nearest
--     look-alikes (distance, then content hash); a pair stays if either end keeps
--     it. So every image with a look-alike keeps its nearest, and the table holds
--     at most max_neighbours look-alike rows per image.

{%- set band_bits = 8 %}
{%- set band_count = 64 // band_bits %}
{%- set max_distance = var('near_duplicate_max_distance') | int %}
{%- set max_neighbours = var('near_duplicate_max_neighbours') | int %}
{%- set full_compare_up_to = var('near_duplicate_full_compare_up_to') | int %}
{%- if max_distance < 0 or max_distance >= band_count %}
    {{ exceptions.raise_compiler_error(
        "near_duplicate_max_distance must lie in [0, " ~ (band_count - 1) ~ "]: blocking on "
        ~ band_count ~ " bands finds every pair within " ~ (band_count - 1) ~ " bits, and no more"
    ) }}
{%- endif %}
{%- if max_neighbours < 1 or full_compare_up_to < 2 %}
    {{ exceptions.raise_compiler_error(
        "near_duplicate_max_neighbours must be at least 1 and near_duplicate_full_compare_up_to at least 2") }}
{%- endif %}

with files as (
    select * from {{ ref('stg_raw__files') }}
),

features as (
    select * from {{ ref('int_image_features') }}
),

present_files as (
    select * from files
    where is_current
),

present_content as (
    select
        content_hash,
        min(path) as first_path
    from present_files
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

ranked_bands as (
    -- each content's place among the contents sharing its band value
    select
        bands.*,
        count(*) over (partition by band_index, band_value) as group_size,
        row_number() over (partition by band_index, band_value order by perceptual_hash, content_hash) as group_rank
    from bands
),

small_groups as (
    select * from ranked_bands
    where group_size <= {{ full_compare_up_to }}
),

large_groups as (
    select * from ranked_bands
    where group_size > {{ full_compare_up_to }}
),

neighbour_offsets as (
    {% for offset in range(1, max_neighbours + 1) -%}
    select {{ offset }} as neighbour_offset{{ '\n    union all\n    ' if not loop.last }}
    {%- endfor %}
),

candidates as (
    -- every two contents of a small group
    select
        band_a.content_hash as content_hash_a,
        band_b.content_hash as content_hash_b,
        band_a.perceptual_hash as perceptual_hash_a,
        band_b.perceptual_hash as perceptual_hash_b
    from small_groups as band_a
    inner join small_groups as band_b
        on band_b.band_index = band_a.band_index
        and band_b.band_value = band_a.band_value
        and band_b.group_rank > band_a.group_rank
    union all
    -- in a large group, each content and its next neighbours in hash order
    select
        band_a.content_hash as content_hash_a,
        band_b.content_hash as content_hash_b,
        band_a.perceptual_hash as perceptual_hash_a,
        band_b.perceptual_hash as perceptual_hash_b
    from large_groups as band_a
    cross join neighbour_offsets
    inner join large_groups as band_b
        on band_b.band_index = band_a.band_index
        and band_b.band_value = band_a.band_value
        and band_b.group_rank = band_a.group_rank + neighbour_offsets.neighbour_offset
),

close_pairs as (
    select distinct
        least(content_hash_a, content_hash_b) as content_hash_a,
        greatest(content_hash_a, content_hash_b) as content_hash_b,
        {{ image_quality.hamming_distance('perceptual_hash_a', 'perceptual_hash_b') }} as hamming_distance
    from candidates
),

within_distance as (
    select * from close_pairs
    where hamming_distance <= {{ max_distance }}
),

pair_ends as (
    -- each pair seen from both of its ends, nearest first
    select
        content_hash_a,
        content_hash_b,
        row_number() over (partition by content_hash_a order by hamming_distance, content_hash_b) as nearness
    from within_distance
    union all
    select
        content_hash_a,
        content_hash_b,
        row_number() over (partition by content_hash_b order by hamming_distance, content_hash_a) as nearness
    from within_distance
),

kept_pairs as (
    select distinct
        content_hash_a,
        content_hash_b
    from pair_ends
    where nearness <= {{ max_neighbours }}
),

look_alikes as (
    select
        -- keys
        kept_pairs.content_hash_a,
        kept_pairs.content_hash_b,
        -- likeness
        within_distance.hamming_distance,
        image_a.pixel_hash = image_b.pixel_hash as is_exact_duplicate,
        false as is_same_content,
        -- where to look: the first present path holding each content
        image_a.first_path as path_a,
        image_b.first_path as path_b
    from kept_pairs
    inner join within_distance
        on within_distance.content_hash_a = kept_pairs.content_hash_a
        and within_distance.content_hash_b = kept_pairs.content_hash_b
    inner join fingerprints as image_a
        on image_a.content_hash = kept_pairs.content_hash_a
    inner join fingerprints as image_b
        on image_b.content_hash = kept_pairs.content_hash_b
),

copies as (
    -- byte-identical copies: every further path of a content beside its first path
    select
        -- keys
        present_content.content_hash as content_hash_a,
        present_content.content_hash as content_hash_b,
        -- likeness
        0 as hamming_distance,
        true as is_exact_duplicate,
        true as is_same_content,
        -- where to look
        present_content.first_path as path_a,
        present_files.path as path_b
    from present_content
    inner join present_files
        on present_files.content_hash = present_content.content_hash
        and present_files.path > present_content.first_path
),

final as (
    select * from look_alikes
    union all
    select * from copies
)

select * from final
