"""Near duplicates stay linear (issue 18, case 10): 1,500 near-blank images, the real loader, dbt and report.

Real upload folders hold thousands of near-blank images (lens caps, blank pages)
whose perceptual hashes are all the same. Compared pair by pair they give n^2/2
pairs (5,906 images gave 17.4 M rows and 7.1 GB in dbt build). Here 1,500 of them,
each a different file (one faint pixel of its own), all with one perceptual hash,
beside a photograph and its re-encode: the pairs table must hold at most a few rows
per image, still flag every one of them, still find the real pair, and the report
must keep to its --limit on every page. Memory is measured by hand (docs/RELIABILITY.md),
not asserted here.
"""

from __future__ import annotations

import re

import cv2
import numpy as np
import pytest

from conftest import run_cli, write_jpeg
from test_dbt_project import assert_all_passed, copy_project, dbt, extract, query

pytestmark = pytest.mark.slow

NEAR_BLANK = 1500
MAX_NEIGHBOURS = 5   # the var near_duplicate_max_neighbours' default
REPORT_LIMIT = 12


def write_near_blank_images(folder, n: int) -> None:
    """n distinct lossless grey pages, 128 x 96, grey 200 with one faint pixel each (every hash equal)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        img = np.full((96, 128), 200, np.uint8)
        y, x = divmod(i, 128)
        img[y, x] = 201 + i % 3
        ok, encoded = cv2.imencode(".png", img)
        assert ok
        (folder / f"blank_{i:05d}.png").write_bytes(encoded.tobytes())


@pytest.fixture(scope="module")
def near_blank(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp("near_blank")
    images = root / "images"
    write_near_blank_images(images / "blank", NEAR_BLANK)
    china = photos["china"]
    write_jpeg(images / "photos" / "china.jpg", china)
    write_jpeg(images / "photos" / "china_q70.jpg", china, quality=70)
    db = root / "warehouse.duckdb"
    extract([images], db)
    project = copy_project(root / "project")
    build = dbt(project, db, "build")
    return root, images, db, project, build


def test_pairs_stay_linear_and_every_near_blank_image_is_flagged(near_blank):
    _, images, db, _, build = near_blank
    assert_all_passed(build)
    images_n = NEAR_BLANK + 2
    hashes = query(db, """select count(distinct perceptual_hash), count(*) from marts.image_quality
                           where contains(path, '/blank/')""")[0]
    assert hashes == (1, NEAR_BLANK)  # the worst case: every near-blank image has the same hash
    look_alikes, copies = query(db, """select count(*) filter (where not is_same_content),
                                              count(*) filter (where is_same_content)
                                         from marts.near_duplicate_pairs""")[0]
    assert copies == 0
    assert look_alikes <= MAX_NEIGHBOURS * images_n, look_alikes   # not 1,124,250
    assert look_alikes >= NEAR_BLANK - 1   # enough to link them all
    # every near-blank image is still flagged, through the pairs it kept
    assert query(db, """select count(*) from marts.image_quality
                         where contains(path, '/blank/') and is_near_duplicate and is_exact_duplicate = false""") \
        == [(NEAR_BLANK,)]
    # each image is one end of at least one pair, and chose at most MAX_NEIGHBOURS of them
    ends = dict(query(db, """select content_hash, count(*) from (
                                 select content_hash_a as content_hash from marts.near_duplicate_pairs
                                 union all select content_hash_b from marts.near_duplicate_pairs) group by 1"""))
    assert len(ends) == images_n
    # the photograph and its re-encode are found as before
    pair = query(db, """select hamming_distance from marts.near_duplicate_pairs
                         where ends_with(path_a, '/china.jpg') and ends_with(path_b, '/china_q70.jpg')
                            or ends_with(path_b, '/china.jpg') and ends_with(path_a, '/china_q70.jpg')""")
    assert len(pair) == 1 and pair[0][0] <= 2


def _cards_per_section(html: str) -> dict[str, int]:
    """section id -> cards in it, for every gallery and cluster section of a page."""
    sections = re.split(r'(?=<section class="(?:gallery|duplicates)" id=")', html)
    counts = {}
    for section in sections[1:]:
        key = re.match(r'<section class="\w+" id="([^"]+)"', section).group(1)
        counts[key] = section.count('<figure class="card')
    return counts


def test_the_report_keeps_to_its_limit_on_every_page(near_blank):
    root, _, db, _, _ = near_blank
    out = root / "site"
    done = run_cli("report", "--db", str(db), "--out", str(out), "--limit", str(REPORT_LIMIT), timeout=1200)
    assert done.returncode == 0, done.stdout + done.stderr
    pages = sorted(out.glob("*.html"))
    per_page = {p.name: _cards_per_section(p.read_text()) for p in pages}
    assert all(n <= REPORT_LIMIT for sections in per_page.values() for n in sections.values()), per_page
    index = (out / "index.html").read_text()
    # one cluster holds the 1,500 near-blank images: it says so and shows REPORT_LIMIT of them
    assert f"{NEAR_BLANK} images (showing {REPORT_LIMIT})" in index
    clusters = [k for k in per_page["index.html"] if k.startswith("cluster-")]
    assert len(clusters) == 2   # the near-blank pages, and the photograph with its re-encode
    # every near-blank image is reachable: the near-duplicate gallery pages through all of them
    near = query(db, "select count(*) from marts.image_quality where is_near_duplicate")[0][0]
    gallery_pages = [p for p in per_page if p == "index.html" or p.startswith("page-check-near_duplicate-")]
    assert sum(per_page[p]["check-near_duplicate"] for p in gallery_pages) == near
