"""Incremental, content-addressed loading: what the loader reads, computes and records.

Every test runs the real loader (process pool included) into a real DuckDB file.
"""

from __future__ import annotations

import hashlib
import os
import shutil

import cv2
import pytest

from conftest import last_run, query, write_jpeg
from image_quality import loader
from image_quality.metrics import all_families, families_by_name

FAMILY_TABLES = [f.table for f in all_families()]


def extract(folder, db, **kw):
    return loader.extract([str(folder)], db_path=str(db), workers=2, **kw)


def metric_rows(db) -> dict[str, int]:
    return {t: query(db, f"select count(*) from raw.{t}")[0][0] for t in FAMILY_TABLES}


def open_paths(db) -> dict[str, str]:
    return dict(query(db, "select path, content_hash from raw.files where valid_to_run is null"))


def test_first_run_measures_every_image_once(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    summary = extract(image_folder, db)
    files = sorted(p for p in image_folder.rglob("*") if p.is_file())
    assert summary.counts.files_scanned == len(files) == 8
    assert summary.counts.images_decoded == 8 and summary.counts.content_new == 8
    assert metric_rows(db) == {t: 8 for t in FAMILY_TABLES}
    # keys are the SHA-256 of the bytes, paths absolute POSIX
    expected = {p.resolve().as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    assert open_paths(db) == expected
    run = last_run(db)
    assert run["status"] == "succeeded" and run["paths_added"] == 8 and run["files_failed"] == 0
    assert run["tool_version"] and run["finished_at"] >= run["started_at"]
    assert query(db, "select distinct source_root from raw.files") == [(image_folder.resolve().as_posix(),)]


def test_second_run_over_unchanged_folder_reads_and_decodes_nothing(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    before = metric_rows(db)
    summary = extract(image_folder, db)
    c = summary.counts
    assert (c.files_scanned, c.files_unchanged, c.files_read, c.images_decoded) == (8, 8, 0, 0)
    assert metric_rows(db) == before


def test_stat_cache_is_trusted_and_verify_rereads(tmp_path, image_folder, photos):
    """Same size and mtime: not read (as git's index). --verify re-hashes and catches it."""
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    target = next(image_folder.glob("*.jpg"))
    st = target.stat()
    data = bytearray(target.read_bytes())
    data[-3] ^= 0xFF  # a byte flipped inside the scan: same size
    target.write_bytes(bytes(data))
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    new_hash = hashlib.sha256(bytes(data)).hexdigest()
    assert extract(image_folder, db).counts.files_read == 0
    assert open_paths(db)[target.resolve().as_posix()] != new_hash
    summary = extract(image_folder, db, verify=True)
    assert summary.counts.files_read == 8 and summary.counts.paths_changed == 1
    assert open_paths(db)[target.resolve().as_posix()] == new_hash


def test_edited_file_gets_new_hash_and_new_interval(tmp_path, image_folder, photos):
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    target = image_folder / "nested" / sorted(p.name for p in (image_folder / "nested").iterdir())[0]
    path = target.resolve().as_posix()
    old_hash = open_paths(db)[path]
    write_jpeg(target, cv2.GaussianBlur(photos["china"], (0, 0), 3))
    summary = extract(image_folder, db)
    assert (summary.counts.files_read, summary.counts.images_decoded, summary.counts.paths_changed) == (1, 1, 1)
    history = query(db, "select content_hash, valid_from_run, valid_to_run from raw.files "
                        "where path = ? order by valid_from_run", [path])
    assert history == [(old_hash, 1, 2), (hashlib.sha256(target.read_bytes()).hexdigest(), 2, None)]
    assert metric_rows(db) == {t: 9 for t in FAMILY_TABLES}


def test_copy_of_existing_file_computes_nothing_new(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    before = metric_rows(db)
    source = next(image_folder.glob("*.jpg"))
    shutil.copy(source, image_folder / "copy_of_it.jpeg")
    summary = extract(image_folder, db)
    c = summary.counts
    assert (c.paths_added, c.files_read, c.images_decoded, c.content_new) == (1, 1, 0, 0)
    assert metric_rows(db) == before
    paths = open_paths(db)
    assert paths[(image_folder / "copy_of_it.jpeg").resolve().as_posix()] == paths[source.resolve().as_posix()]


def test_identical_new_files_in_one_run_are_decoded_once(tmp_path, image_folder):
    folder = tmp_path / "dupes"
    folder.mkdir()
    source = next(image_folder.glob("*.jpg"))
    for name in ("a.jpg", "b.jpg", "c.JPG"):
        shutil.copy(source, folder / name)
    db = tmp_path / "w.duckdb"
    summary = extract(folder, db)
    # files of one size are hashed first, then each distinct content is read once more to decode:
    # still three files read, never more than were scanned
    assert summary.counts.files_read == summary.counts.files_scanned == 3
    assert summary.counts.images_decoded == 1 and summary.counts.content_new == 1
    assert metric_rows(db) == {t: 1 for t in FAMILY_TABLES}


def test_the_counters_of_every_run_add_up(tmp_path, image_folder, monkeypatch):
    """files read never exceed files scanned, and unchanged + read + unreadable = scanned.

    Run 1: byte copies in one run (hashed, then one re-read to decode) and a file
    that is not an image; run 2: nothing changed; run 3: another copy arrives; run 4:
    a family's version is bumped, so one path of each of the 8 contents is read again.
    """
    source = next(image_folder.glob("*.jpg"))
    for name in ("copy_a.jpg", "copy_b.jpg"):
        shutil.copy(source, image_folder / name)
    (image_folder / "notes.jpg").write_bytes(b"not an image at all")
    db = tmp_path / "w.duckdb"
    runs = [extract(image_folder, db), extract(image_folder, db)]
    shutil.copy(source, image_folder / "copy_c.jpg")
    runs.append(extract(image_folder, db))
    laplacian = families_by_name()["laplacian"]
    monkeypatch.setattr(type(laplacian), "version", laplacian.version + 1)
    runs.append(extract(image_folder, db))
    counts = [r.counts for r in runs]
    assert [(c.files_scanned, c.files_unchanged, c.files_read) for c in counts] == [
        (11, 0, 11), (11, 11, 0), (12, 11, 1), (12, 12, 8)]
    for c in counts:
        assert c.files_read <= c.files_scanned
        assert c.images_decoded <= c.files_read
    for c in counts[:3]:  # no version bump: every scanned file is unchanged or read
        assert c.files_unchanged + c.files_read == c.files_scanned
    stored = query(db, "select files_scanned, files_read from raw.load_runs order by run_id")
    assert stored == [(c.files_scanned, c.files_read) for c in counts]


def test_removed_file_interval_is_closed_never_deleted(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    target = next(image_folder.glob("*.jpg"))
    path = target.resolve().as_posix()
    content = open_paths(db)[path]
    target.unlink()
    summary = extract(image_folder, db)
    assert summary.counts.paths_removed == 1
    assert query(db, "select content_hash, valid_from_run, valid_to_run from raw.files where path = ?",
                 [path]) == [(content, 1, 2)]
    assert path not in open_paths(db)
    assert metric_rows(db) == {t: 8 for t in FAMILY_TABLES}  # metrics of removed content stay


def test_restored_file_reopens_its_path(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    target = next(image_folder.glob("*.jpg"))
    saved = target.read_bytes()
    st = target.stat()
    target.unlink()
    extract(image_folder, db)
    target.write_bytes(saved)
    os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))  # same stat as the cache remembers
    summary = extract(image_folder, db)
    assert summary.counts.paths_added == 1 and summary.counts.images_decoded == 0
    intervals = query(db, "select valid_from_run, valid_to_run from raw.files where path = ? "
                          "order by valid_from_run", [target.resolve().as_posix()])
    assert intervals == [(1, 2), (3, None)]


def test_folder_at_run_n_is_one_query(tmp_path, image_folder):
    """The README's query: what did this folder hold at run N."""
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    next(image_folder.glob("*.jpg")).unlink()
    extract(image_folder, db)
    folder = image_folder.resolve().as_posix() + "/"
    sql = """select path, content_hash from raw.files
              where starts_with(path, ?) and valid_from_run <= ?
                and (valid_to_run is null or valid_to_run > ?)"""
    assert len(query(db, sql, [folder, 1, 1])) == 8
    assert len(query(db, sql, [folder, 2, 2])) == 7


def test_version_bump_recomputes_only_that_family(tmp_path, image_folder, monkeypatch):
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    laplacian = families_by_name()["laplacian"]
    monkeypatch.setattr(type(laplacian), "version", laplacian.version + 1)
    summary = extract(image_folder, db)
    assert summary.counts.images_decoded == 8 and summary.counts.content_new == 0
    counts = metric_rows(db)
    assert counts.pop("metric_laplacian") == 16  # old rows kept beside the new version
    assert counts == {t: 8 for t in FAMILY_TABLES if t != "metric_laplacian"}
    by_version = dict(query(db, "select metric_version, count(*) from raw.metric_laplacian group by all"))
    assert by_version == {laplacian.version - 1: 8, laplacian.version: 8}
    assert query(db, "select max(computed_run) from raw.metric_sobel") == [(1,)]
    # and the run after that computes nothing
    assert extract(image_folder, db).counts.images_decoded == 0


def test_corrupt_files_are_recorded_and_the_rest_succeed(tmp_path, image_folder):
    good = next(image_folder.glob("*.jpg")).read_bytes()
    (image_folder / "empty.jpg").write_bytes(b"")
    (image_folder / "truncated.jpg").write_bytes(good[: len(good) // 2])
    (image_folder / "page.jpg").write_bytes(b"<html><body>not an image</body></html>")
    db = tmp_path / "w.duckdb"
    summary = extract(image_folder, db)
    assert summary.counts.files_failed == 3
    assert metric_rows(db) == {t: 8 for t in FAMILY_TABLES}
    errors = dict(query(db, "select regexp_extract(path, '[^/]+$'), error_kind from raw.extract_errors"))
    assert errors == {"empty.jpg": "empty_file", "truncated.jpg": "truncated", "page.jpg": "not_an_image"}
    assert query(db, "select count(*) from raw.extract_errors where content_hash is null") == [(0,)]
    assert last_run(db)["status"] == "succeeded"
    # failed content is not retried on the next run
    again = extract(image_folder, db)
    assert again.counts.files_read == 0 and again.counts.files_failed == 0


def test_metric_families_are_registered_with_their_versions(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    extract(image_folder, db)
    registered = {(f, v, t) for f, v, t in query(db, "select family, version, table_name from raw.metric_families")}
    assert registered == {(f.name, f.version, f.table) for f in all_families()}


@pytest.mark.parametrize("batch_files", [1, 3])
def test_small_batches_give_the_same_tables(tmp_path, image_folder, batch_files):
    db_one, db_many = tmp_path / "one.duckdb", tmp_path / "many.duckdb"
    extract(image_folder, db_one)
    extract(image_folder, db_many, batch_files=batch_files)
    sql = "select content_hash, laplacian_var from raw.metric_laplacian order by 1"
    assert query(db_one, sql) == query(db_many, sql)
    assert open_paths(db_one) == open_paths(db_many)
