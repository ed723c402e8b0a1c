-- Near-duplicate clusters: present images linked by near_duplicate_pairs,
-- directly or through each other, one row per path, biggest clusters first.
-- A cluster is named by its smallest content hash; the suggested keeper is its
-- largest image (most pixels, then most bytes).

with recursive pairs as (
    select * from {{ ref('near_duplicate_pairs') }}
),

images as (
    select * from {{ ref('image_quality') }}
),

links as (
    select content_hash_a as content_hash, content_hash_b as linked_hash from pairs
    union all
    select content_hash_b as content_hash, content_hash_a as linked_hash from pairs
),

reachable (content_hash, linked_hash) as (
    -- union, not union all: each (image, reachable image) once, so the walk ends
    select content_hash, content_hash as linked_hash from links
    union
    select reachable.content_hash, links.linked_hash
    from reachable
    inner join links
        on links.content_hash = reachable.linked_hash
),

clusters as (
    select
        content_hash,
        min(linked_hash) as cluster_hash
    from reachable
    group by content_hash
),

final as (
    select
        clusters.cluster_hash,
        count(*) over (partition by clusters.cluster_hash) as cluster_paths,
        row_number() over (
            partition by clusters.cluster_hash
            order by images.pixel_count desc, images.size_bytes desc, images.path
        ) = 1 as is_suggested_keeper,
        images.path,
        images.content_hash,
        images.is_exact_duplicate,
        images.near_duplicate_min_distance,
        images.width,
        images.height,
        images.size_bytes,
        images.quality_label
    from clusters
    inner join images
        on images.content_hash = clusters.content_hash
    order by cluster_paths desc, clusters.cluster_hash, is_suggested_keeper desc, images.path
)

select * from final
