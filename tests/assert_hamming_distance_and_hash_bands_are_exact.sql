-- Near-duplicate search rests on two macros: hamming_distance and hash_band.
-- On hashes whose answers are known (the sign bit, all bits, one bit per band,
-- two real perceptual hashes), the adapter's implementation and the portable
-- default must both give them, and on every pair of (up to 100 of) the
-- warehouse's perceptual hashes they must agree. Returns the cases that differ.

{%- set min_bigint = '(cast(-9223372036854775807 as bigint) - 1)' %}
{%- set distance_cases = [
    ('0', '0', 0),
    ('0', '-1', 64),
    ('-1', '-1', 0),
    (min_bigint, '9223372036854775807', 64),
    (min_bigint, '0', 1),
    ('9223372036854775807', '0', 63),
    ('1', '2', 2),
    ('72623859790382856', '0', 13),
    ('72623859790382856', '-1', 51),
    ('-7221748031158842349', '-3464380423066798995', 34),
] %}
{%- set band_cases = [
    ('72623859790382856', [1, 2, 3, 4, 5, 6, 7, 8]),
    ('-1', [255, 255, 255, 255, 255, 255, 255, 255]),
    (min_bigint, [128, 0, 0, 0, 0, 0, 0, 0]),
    ('-7221748031158842349', [155, 199, 50, 109, 153, 102, 140, 19]),
] %}

with distance_cases as (
    {% for hash_a, hash_b, expected in distance_cases -%}
    select
        cast({{ hash_a }} as bigint) as hash_a,
        cast({{ hash_b }} as bigint) as hash_b,
        {{ expected }} as expected_distance
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}
),

band_cases as (
    {% for hash, bands in band_cases -%}
    {% set outer_loop = loop -%}
    {% for expected in bands -%}
    select
        cast({{ hash }} as bigint) as hash,
        {{ loop.index0 }} as band_index,
        {{ image_quality.hash_band('cast(' ~ hash ~ ' as bigint)', loop.index0) }} as band_value,
        {{ image_quality.default__hash_band('cast(' ~ hash ~ ' as bigint)', loop.index0, 8) }} as portable_band_value,
        {{ expected }} as expected_band_value
    {% if not (loop.last and outer_loop.last) %}union all
    {% endif %}
    {%- endfor %}
    {%- endfor %}
),

ranked_hashes as (
    select
        perceptual_hash,
        row_number() over (order by content_hash) as hash_rank
    from {{ ref('int_image_features') }}
    where perceptual_hash is not null
),

warehouse_hashes as (
    -- the first 100 real hashes: enough variety, and the cross join stays small
    select perceptual_hash from ranked_hashes
    where hash_rank <= 100
),

warehouse_pairs as (
    select
        hashes_a.perceptual_hash as hash_a,
        hashes_b.perceptual_hash as hash_b
    from warehouse_hashes as hashes_a
    cross join warehouse_hashes as hashes_b
),

measured_distances as (
    select
        hash_a,
        hash_b,
        expected_distance,
        {{ image_quality.hamming_distance('hash_a', 'hash_b') }} as distance,
        {{ image_quality.default__hamming_distance('hash_a', 'hash_b') }} as portable_distance
    from distance_cases
    union all
    select
        hash_a,
        hash_b,
        null as expected_distance,
        {{ image_quality.hamming_distance('hash_a', 'hash_b') }} as distance,
        {{ image_quality.default__hamming_distance('hash_a', 'hash_b') }} as portable_distance
    from warehouse_pairs
),

final as (
    select
        'distance of ' || cast(hash_a as {{ dbt.type_string() }})
            || ' and ' || cast(hash_b as {{ dbt.type_string() }}) || ' differs' as problem
    from measured_distances
    where distance is null
        or portable_distance is null
        or distance <> portable_distance
        or distance <> coalesce(expected_distance, distance)
    union all
    select
        'band ' || cast(band_index as {{ dbt.type_string() }})
            || ' of ' || cast(hash as {{ dbt.type_string() }}) || ' differs' as problem
    from band_cases
    where band_value is null
        or band_value <> expected_band_value
        or portable_band_value <> expected_band_value
)

select * from final
