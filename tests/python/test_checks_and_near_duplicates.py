"""The checks and near-duplicate pairs end to end: real photographs, the real loader, real dbt.

One collection is built per module from the photographs our dependencies ship:
every photograph as it is (colour ones as colour JPEGs, grey ones as greyscale
JPEGs: nothing to flag), and one case per check made from a photograph the way
it happens to users (a re-encode, a downscale, an underexposure, a greyscale
picture saved as RGB, a crop, a lossless re-save). It is extracted with
``image-quality extract`` and built with ``dbt build``; tests that change data
or vars work on copies.
"""

from __future__ import annotations

import io
import itertools
import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import write_jpeg, write_png
from test_dbt_project import (DbtResult, assert_all_passed, assert_fails_naming, copy_db, copy_project, dbt,
                              execute, extract, query)

pytestmark = pytest.mark.slow

# The checks of marts.image_quality that depend on the image alone, and the duplicate checks.
PROPERTY_CHECKS = ("is_too_dark", "is_too_bright", "is_low_information", "is_odd_size",
                   "is_odd_aspect_ratio")
DUPLICATE_CHECKS = ("is_exact_duplicate", "is_near_duplicate")

# Genuinely different photographs of one kind of scene: they must never pair.
SCENE_TYPES = {
    "ground and wall textures": ("brick", "grass", "gravel"),
    "printed text": ("page", "text"),
    "people": ("astronaut", "camera"),
    "sklearn's two sample photos": ("china", "flower"),
}


def _decoded(path: Path) -> np.ndarray:
    """The file's pixels as the loader decodes them (OpenCV, 8-bit BGR)."""
    return cv2.imdecode(np.frombuffer(path.read_bytes(), np.uint8), cv2.IMREAD_COLOR)


def _is_grey(img: np.ndarray) -> bool:
    return bool(np.array_equal(img[..., 0], img[..., 1]) and np.array_equal(img[..., 1], img[..., 2]))


def make_collection(root: Path, photos: dict[str, np.ndarray]) -> dict[str, Path]:
    """Write the collection; returns name -> path for every file."""
    files: dict[str, Path] = {}
    for name, img in photos.items():
        # each photograph stored as it should be: grey pictures in greyscale files
        files[name] = write_jpeg(root / "photos" / f"{name}.jpg", img[..., 0] if _is_grey(img) else img)

    cases = root / "cases"
    china = _decoded(files["china"])
    h, w = china.shape[:2]
    # near duplicates: a re-encode at JPEG quality 70 and a 50% downscale of the JPEG
    files["china_q70"] = write_jpeg(cases / "china_q70.jpg", china, quality=70)
    files["china_half"] = write_jpeg(cases / "china_half.jpg",
                                     cv2.resize(china, (w // 2, h // 2), interpolation=cv2.INTER_AREA))
    # exact duplicate: the decoded JPEG saved losslessly, other bytes, same pixels
    # exact duplicate: the same JPEG with a comment segment added after its start marker, as photo
    # tools add metadata: other bytes, the same pixels
    jpeg = files["flower"].read_bytes()
    comment = b"edited by a photo tool"
    files["flower_metadata"] = cases / "flower_metadata.jpg"
    files["flower_metadata"].write_bytes(jpeg[:2] + b"\xff\xfe" + (len(comment) + 2).to_bytes(2, "big")
                                         + comment + jpeg[2:])
    # too dark: an underexposure, brightness scaled to a quarter
    rocket = photos["rocket"].astype(np.float32)
    files["rocket_dark"] = write_jpeg(cases / "rocket_dark.jpg", np.round(rocket * 0.25).astype(np.uint8))
    # too bright: washed out, 95% of the way to white
    chelsea = photos["chelsea"].astype(np.float32)
    files["chelsea_washed_out"] = write_jpeg(cases / "chelsea_washed_out.jpg",
                                             np.round(255 - (255 - chelsea) * 0.05).astype(np.uint8))
    # a grey picture saved by Pillow as an RGB JPEG: no check flags it (the loader measures luma only),
    # and it stays a near duplicate of its colour original
    grey = cv2.cvtColor(photos["coffee"], cv2.COLOR_BGR2GRAY)
    buffer = io.BytesIO()
    Image.fromarray(grey).convert("RGB").save(buffer, "JPEG", quality=90)
    files["coffee_grey_as_rgb"] = cases / "coffee_grey_as_rgb.jpg"
    files["coffee_grey_as_rgb"].write_bytes(buffer.getvalue())
    # odd size: an 80 x 60 crop
    files["motorcycle_tiny"] = write_jpeg(cases / "motorcycle_tiny.jpg", photos["motorcycle"][200:260, 300:380])
    # odd aspect ratio: a 6:1 strip across the photograph
    astronaut = photos["astronaut"]
    strip_height = astronaut.shape[1] // 6
    files["astronaut_strip"] = write_jpeg(cases / "astronaut_strip.jpg", astronaut[200:200 + strip_height])
    # low information: nearly constant, the photograph at 2% of its contrast
    hubble = photos["hubble_deep_field"].astype(np.float32)
    files["hubble_flat"] = write_jpeg(cases / "hubble_flat.jpg",
                                      np.round(128 + 0.02 * (hubble - 128)).astype(np.uint8))
    return files


# the check each case is made to fail
CASES = {
    "rocket_dark": "is_too_dark",
    "chelsea_washed_out": "is_too_bright",
    "hubble_flat": "is_low_information",
    "motorcycle_tiny": "is_odd_size",
    "astronaut_strip": "is_odd_aspect_ratio",
    "flower_metadata": "is_exact_duplicate",
    "china_q70": "is_near_duplicate",
    "china_half": "is_near_duplicate",
}
# pairs the collection holds by construction; the perceptual hash ignores
# brightness, contrast and colour, so the dark, washed-out and grey versions
# pair with their originals too
EXPECTED_PAIRS = {
    frozenset({"china", "china_q70"}), frozenset({"china", "china_half"}),
    frozenset({"china_q70", "china_half"}), frozenset({"flower", "flower_metadata"}),
    frozenset({"rocket", "rocket_dark"}), frozenset({"chelsea", "chelsea_washed_out"}),
    frozenset({"coffee", "coffee_grey_as_rgb"}),
}


@dataclass
class Collection:
    root: Path
    project: Path
    db: Path
    files: dict[str, Path]
    build: DbtResult

    def name_of(self, path: str) -> str:
        by_path = {str(p.resolve()): name for name, p in self.files.items()}
        return by_path[path]

    def rows(self, db: Path | None = None) -> dict[str, dict]:
        """name -> the image_quality row of its file."""
        import duckdb

        con = duckdb.connect(str(db or self.db), read_only=True)
        try:
            cursor = con.execute("select * from marts.image_quality")
            names = [d[0] for d in cursor.description]
            rows = [dict(zip(names, r)) for r in cursor.fetchall()]
        finally:
            con.close()
        return {self.name_of(r["path"]): r for r in rows}

    def pairs(self, db: Path | None = None) -> dict[frozenset, tuple[int, bool]]:
        """{name_a, name_b} -> (hamming_distance, is_exact_duplicate)."""
        rows = query(db or self.db, "select path_a, path_b, hamming_distance, is_exact_duplicate "
                                    "from marts.near_duplicate_pairs")
        return {frozenset({self.name_of(a), self.name_of(b)}): (d, exact) for a, b, d, exact in rows}


@pytest.fixture(scope="module")
def collection(tmp_path_factory, photos) -> Collection:
    root = tmp_path_factory.mktemp("checks")
    files = make_collection(root / "images", photos)
    db = root / "warehouse.duckdb"
    extract([root / "images"], db)
    project = copy_project(root / "project")
    return Collection(root, project, db, files, dbt(project, db, "build"))


def _hamming(a: int, b: int) -> int:
    return bin((a ^ b) & (2 ** 64 - 1)).count("1")


# --- the build -----------------------------------------------------------------------------


def test_build_passes_with_the_checks_and_pairs(collection):
    assert_all_passed(collection.build)
    ran = set(collection.build.statuses())
    for fragment in ("model.image_quality.near_duplicate_pairs", "model.image_quality.int_image_checks",
                     "near_duplicate_pairs_are_ordered", "assert_hamming_distance_and_hash_bands_are_exact"):
        assert any(fragment in unique_id for unique_id in ran), fragment
    assert len(collection.rows()) == len(collection.files)


# --- near duplicates ------------------------------------------------------------------------


def test_a_reencode_and_a_downscale_pair_with_their_photo(collection):
    pairs = collection.pairs()
    max_distance = 6  # the var's default in dbt_project.yml
    for other in ("china_q70", "china_half"):
        distance, exact = pairs[frozenset({"china", other})]
        print(f"china ~ {other}: {distance} bits")
        assert 0 <= distance <= max_distance
        assert not exact  # other pixels, same picture
    rows = collection.rows()
    assert rows["china_q70"]["is_near_duplicate"] and rows["china_half"]["is_near_duplicate"]
    assert rows["china"]["near_duplicate_count"] == 2


def test_different_photos_of_one_scene_type_do_not_pair(collection):
    pairs = collection.pairs()
    hashes = {name: row["perceptual_hash"] for name, row in collection.rows().items()}
    for scene, names in SCENE_TYPES.items():
        for a, b in itertools.combinations(names, 2):
            print(f"{scene}: {a} ~ {b}: {_hamming(hashes[a], hashes[b])} bits")
            assert frozenset({a, b}) not in pairs, (scene, a, b)
    # and nothing pairs but what the collection holds by construction
    assert set(pairs) == EXPECTED_PAIRS


def test_pairs_equal_a_cross_join_of_the_hashes(collection):
    """Blocking on bands loses no pair: the same pairs as comparing every two hashes."""
    hashes = dict(query(collection.db, """select content_hash, perceptual_hash from intermediate.int_image_features
                                          where content_hash in (select content_hash from staging.stg_raw__files
                                                                  where is_current)"""))
    brute_force = {tuple(sorted((a, b))): _hamming(hashes[a], hashes[b])
                   for a, b in itertools.combinations(hashes, 2) if _hamming(hashes[a], hashes[b]) <= 6}
    found = {(a, b): d for a, b, d in query(collection.db, """select content_hash_a, content_hash_b, hamming_distance
                                                               from marts.near_duplicate_pairs""")}
    assert found == brute_force


def test_a_pair_sharing_a_single_band_is_found_at_the_largest_distance(collection, tmp_path):
    """7 bits apart, one in each of 7 bands: the pair shares one band only, and is found at distance 7.

    Two contents are added beside a real photograph's fingerprint: one whose hash
    differs in one bit of each of bands 1 to 7 (distance 7, band 0 shared), one
    that differs in one bit of every band (distance 8, no band shared).
    """
    db = copy_db(collection.db, tmp_path / "bands.duckdb")
    china_hash = collection.rows()["china"]["content_hash"]
    base = query(db, "select perceptual_hash from raw.metric_fingerprint where content_hash = ?", [china_hash])[0][0]

    def flipped(bands):
        value = base & (2 ** 64 - 1)
        for band in bands:
            value ^= 1 << (63 - 8 * band - 3)  # one bit inside each band
        return value - 2 ** 64 if value >= 2 ** 63 else value

    added = {"7" * 64: flipped(range(1, 8)), "8" * 64: flipped(range(8))}
    for content_hash, perceptual_hash in added.items():
        execute(db,
                f"""insert into raw.files
                    (path, source_root, content_hash, size_bytes, mtime_ns, valid_from_run, valid_to_run)
                    select '/synthetic/' || '{content_hash[0]}.jpg', source_root, '{content_hash}', size_bytes,
                           mtime_ns, valid_from_run, null
                      from raw.files where content_hash = '{china_hash}' limit 1""",
                f"""insert into raw.metric_fingerprint
                    select '{content_hash}', metric_version, computed_run, computed_at,
                           pixel_hash || '-{content_hash[0]}', {perceptual_hash}
                      from raw.metric_fingerprint where content_hash = '{china_hash}'""")
    run = dbt(collection.project, db, "run", "--select", "int_image_features", "near_duplicate_pairs",
              "--vars", json.dumps({"near_duplicate_max_distance": 7}))
    assert_all_passed(run)
    distances = {(a, b): d for a, b, d in query(db, """select content_hash_a, content_hash_b, hamming_distance
                                                        from marts.near_duplicate_pairs""")}
    pair_7 = tuple(sorted((china_hash, "7" * 64)))
    assert distances.get(pair_7) == 7
    assert tuple(sorted((china_hash, "8" * 64))) not in distances


def test_a_distance_the_bands_cannot_guarantee_is_refused(collection, tmp_path):
    db = copy_db(collection.db, tmp_path / "eight.duckdb")
    run = dbt(collection.project, db, "run", "--select", "near_duplicate_pairs",
              "--vars", json.dumps({"near_duplicate_max_distance": 8}))
    assert run.returncode != 0
    assert "near_duplicate_max_distance must lie in [0, 7]" in run.output


# --- the checks ---------------------------------------------------------------------------------


def test_each_check_flags_its_case(collection):
    rows = collection.rows()
    for case, check in CASES.items():
        row = rows[case]
        print(f"{case}: {row['failed_checks']}")
        assert row[check] is True, (case, check, row)
        assert check.removeprefix("is_") in row["failed_checks"], (case, row["failed_checks"])
    # the measures behind them
    assert rows["rocket_dark"]["brightness_p99"] < 94
    assert rows["chelsea_washed_out"]["brightness_p01"] > 242
    assert rows["hubble_flat"]["grey_entropy"] < 3.0
    assert rows["motorcycle_tiny"]["pixel_count"] == 80 * 60
    assert rows["astronaut_strip"]["aspect_ratio"] == pytest.approx(6, rel=0.01)
    assert rows["coffee_grey_as_rgb"]["channels"] == 3
    # same pixels, other bytes: exact duplicates of each other, not near ones
    flower, copy = rows["flower"], rows["flower_metadata"]
    assert flower["content_hash"] != copy["content_hash"] and flower["pixel_hash"] == copy["pixel_hash"]
    assert flower["is_exact_duplicate"] and flower["exact_duplicate_count"] == 1
    assert not flower["is_near_duplicate"] and not copy["is_near_duplicate"]
    assert collection.pairs()[frozenset({"flower", "flower_metadata"})] == (0, True)


def test_no_check_flags_a_normal_photograph(collection):
    rows = collection.rows()
    photographs = [name for name in rows if collection.files[name].parent.name == "photos"]
    assert len(photographs) >= 12
    # photographs with a look-alike made from them are near or exact duplicates, by design
    paired = set().union(*EXPECTED_PAIRS)
    for name in photographs:
        row = rows[name]
        flagged = [check for check in PROPERTY_CHECKS if row[check] is not False]
        assert not flagged, (name, flagged, row)
        if name not in paired:
            assert row["is_exact_duplicate"] is False and row["is_near_duplicate"] is False, (name, row)
            assert row["failed_checks"] is None and row["failed_check_count"] == 0
    # the greyscale photographs are stored as greyscale
    assert rows["camera"]["channels"] == 1


def test_thresholds_are_vars(collection, tmp_path):
    db = copy_db(collection.db, tmp_path / "vars.duckdb")
    loose = {"too_dark_brightness_p99_below": 10, "odd_aspect_ratio_above": 8, "odd_size_pixels_below": 100}
    run = dbt(collection.project, db, "run", "--select", "int_image_checks", "near_duplicate_pairs",
              "image_quality", "--vars", json.dumps(loose))
    assert_all_passed(run)
    rows = collection.rows(db)
    assert rows["rocket_dark"]["is_too_dark"] is False
    assert rows["astronaut_strip"]["is_odd_aspect_ratio"] is False
    assert rows["motorcycle_tiny"]["is_odd_size"] is False
    assert rows["hubble_flat"]["is_low_information"] is True  # untouched


def test_a_byte_identical_copy_is_an_exact_duplicate(collection, tmp_path):
    db = copy_db(collection.db, tmp_path / "copy.duckdb")
    copies = tmp_path / "copies"
    copies.mkdir()
    shutil.copy2(collection.files["camera"], copies / "camera_copy.jpg")
    extract([collection.root / "images", copies], db)
    assert_all_passed(dbt(collection.project, db, "build"))
    rows = query(db, """select path, is_exact_duplicate, exact_duplicate_count, is_near_duplicate
                          from marts.image_quality where content_hash = (
                              select content_hash from marts.image_quality where ends_with(path, '/camera.jpg'))""")
    assert len(rows) == 2
    assert all(exact and count == 1 and near is False for _, exact, count, near in rows), rows
    # one content, so no look-alike pair; but where users look for duplicates, the copy is there,
    # beside the content's first path
    assert query(db, "select count(*) from marts.near_duplicate_pairs where not is_same_content")[0][0] \
        == len(EXPECTED_PAIRS)
    first, copy = sorted(path for path, *_ in rows)
    assert query(db, """select path_a, path_b, hamming_distance, is_exact_duplicate, content_hash_a = content_hash_b
                           from marts.near_duplicate_pairs where is_same_content""") == [(first, copy, 0, True, True)]


# --- the analyses ---------------------------------------------------------------------------------


def test_the_analyses_run(collection):
    compiled = dbt(collection.project, collection.db, "compile", "--select",
                   "images_failing_checks", "near_duplicate_clusters")
    assert compiled.returncode == 0, compiled.output[-5000:]
    analyses = collection.project / "target" / "compiled" / "image_quality" / "analyses"
    failing = query(collection.db, (analyses / "images_failing_checks.sql").read_text())
    assert {collection.name_of(r[0]) for r in failing} >= set(CASES)
    clusters = query(collection.db, (analyses / "near_duplicate_clusters.sql").read_text())
    members: dict[str, set[str]] = {}
    keepers = {}
    for cluster_hash, _size, is_keeper, path, *_ in clusters:
        members.setdefault(cluster_hash, set()).add(collection.name_of(path))
        if is_keeper:
            keepers[cluster_hash] = collection.name_of(path)
    groups = {frozenset(m) for m in members.values()}
    assert frozenset({"china", "china_q70", "china_half"}) in groups
    assert frozenset({"flower", "flower_metadata"}) in groups
    china_cluster = next(h for h, m in members.items() if "china_half" in m)
    assert keepers[china_cluster] != "china_half"  # the largest image is kept


# --- the tests have teeth ---------------------------------------------------------------------------


def test_a_misordered_or_distant_pair_fails_the_pair_tests(collection, tmp_path):
    db = copy_db(collection.db, tmp_path / "bad_pairs.duckdb")
    execute(db,
            """update marts.near_duplicate_pairs
                  set content_hash_a = content_hash_b, content_hash_b = content_hash_a
                where content_hash_a = (select min(content_hash_a) from marts.near_duplicate_pairs)""",
            """update marts.near_duplicate_pairs set hamming_distance = 9, is_exact_duplicate = true
                where content_hash_a = (select max(content_hash_a) from marts.near_duplicate_pairs)""")
    assert_fails_naming(dbt(collection.project, db, "test", "--select", "near_duplicate_pairs"),
                        "near_duplicate_pairs_are_ordered",
                        "finite_and_within_near_duplicate_pairs_hamming_distance",
                        "near_duplicate_pairs_exact_duplicates_at_distance_zero")
