"""One bad file costs that file only: a lying header, a value its column cannot hold, a file that
changes or vanishes between two reads of one run. Real files, the real loader and pool, real DuckDB.

docs/RELIABILITY.md ("One file costs one file") lists these cases.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib

import cv2
import numpy as np

from conftest import last_run, query, run_cli, write_jpeg
from image_quality import loader
from image_quality.measuring import FileError, FileResult, measure_bytes
from image_quality.metrics import all_families


def chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_claiming_frames(frames: int) -> bytes:
    """A small real PNG with an acTL chunk claiming ``frames`` animation frames (none follow)."""
    pixels = (np.arange(64 * 64 * 3) % 251).astype(np.uint8).reshape(64, 64, 3)
    png = cv2.imencode(".png", pixels)[1].tobytes()
    ihdr_end = 8 + 12 + 13
    return png[:ihdr_end] + chunk(b"acTL", struct.pack(">II", frames, 0)) + png[ihdr_end:]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def good_files(folder, photos, n=4):
    names = sorted(photos)
    for i in range(n):
        img = photos[names[i % len(names)]]
        write_jpeg(folder / f"good_{i}.jpg", img[i * 10:, i * 15:])
    return [(folder / f"good_{i}.jpg").as_posix() for i in range(n)]


def measured(db, path) -> bool:
    return bool(query(db, """select 1 from raw.files f join raw.metric_laplacian m using (content_hash)
                              where f.path = ? and f.valid_to_run is null""", [path]))


# --- case 1: a PNG whose acTL claims 2^31 - 1 frames --------------------------------------------


def test_a_png_claiming_two_billion_frames_costs_that_file_only(tmp_path, photos):
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    good = good_files(folder, photos)
    poison = folder / "poison.png"
    poison.write_bytes(png_claiming_frames(2**31 - 1))
    for run in (1, 2):   # it stopped every run, forever: the second run must succeed too
        result = run_cli("extract", str(folder), "--db", str(db), "--workers", "2")
        assert result.returncode == 0, result.stderr
        assert last_run(db)["status"] == "succeeded"
    assert all(measured(db, p) for p in good)
    (kind, message, content_hash), = query(
        db, "select error_kind, message, content_hash from raw.extract_errors where path = ?", [poison.as_posix()])
    assert kind == "bad_header" and "2,147,483,648 frames" in message
    assert content_hash == sha256(poison.read_bytes())
    assert last_run(db)["images_decoded"] == 0   # refused once, not decoded again


def test_a_value_its_column_cannot_hold_costs_that_family_only(photos):
    """The measure function types and bounds every value: the family's row is refused, the others kept."""

    class Overflowing:  # not a MetricFamily subclass: the registry must never see it
        name, version = "overflowing_test_family", 1
        columns = {"frames": "integer", "label": "varchar"}

        def calculate(self, image):
            return {"frames": 2**31, "label": "x"}

    class Lying:
        name, version = "lying_test_family", 1
        columns = {"label": "varchar", "score": "double"}

        def calculate(self, image):
            return {"label": "caf\udce9", "score": 1.0}   # a lone surrogate is not UTF-8

    data = cv2.imencode(".jpg", photos["flower"])[1].tobytes()
    families = list(all_families())
    result = FileResult("/photos/flower.jpg")
    measure_bytes(data, [*families, Overflowing(), Lying()], result)
    assert set(result.rows) == {f.name for f in families}
    assert [(e.stage, e.error_kind, e.family) for e in result.errors] == [
        ("metric", "value_out_of_range", "overflowing_test_family"),
        ("metric", "value_out_of_range", "lying_test_family")]
    assert "2147483648" in result.errors[0].message and "integer" in result.errors[0].message
    # and what is kept is typed: plain Python values, never numpy scalars
    for row in result.rows.values():
        assert all(v is None or type(v) in (int, float, str, bool) for v in row.values())


def test_a_row_the_database_refuses_costs_its_file_only_not_the_batch(tmp_path, photos):
    """The batch write is not all-or-nothing: a refused row is retried file by file and recorded."""
    import duckdb

    from image_quality import warehouse
    from image_quality.measuring import measure_file, FileTask

    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    good = good_files(folder, photos, 3)
    families = all_families()
    con = duckdb.connect(str(db))
    try:
        warehouse.ensure_schema(con, families)
        run_id = warehouse.start_run(con, [folder.as_posix()], "test")
        run = loader._LoadRun(con, run_id, families, 1, 500, loader.NoProgress())
        results = [measure_file(FileTask(p)) for p in good]
        # as a buggy engine or family would hand it over, past the measure function's checks
        results[1].rows["image_properties"]["frames"] = 2**31
        for p in good:
            run._source_root[p] = folder.as_posix()
        run._pending = results
        run._flush()
        errors = con.execute("select path, stage, error_kind, message from raw.extract_errors").fetchall()
        stored = {p for (p,) in con.execute("select path from raw.files").fetchall()}
    finally:
        con.close()
    assert stored == {good[0], good[2]}
    (path, stage, kind, message), = errors
    assert (path, stage, kind) == (good[1], "write", "write_failed")
    assert "2147483648" in message
    assert run.counts.files_failed == 1 and run.counts.paths_added == 2


# --- case 4 and the empty interval: a file that changes or vanishes between two reads of one run ----


class OnSecondRead:
    """A progress reporter that acts when the loader announces its second set of reads (the
    measuring reads of content hashed earlier in the run)."""

    def __init__(self, change):
        self._change, self._calls = change, 0

    def add_total(self, n: int) -> None:
        self._calls += 1
        if self._calls == 2:
            self._change()

    def update(self, n: int = 1) -> None:
        pass


def copies(folder, photos):
    """a.jpg and b.jpg hold the same bytes (so they are hashed first, measured later), c.jpg others."""
    a = write_jpeg(folder / "a.jpg", photos["china"][:300, :400])
    (folder / "b.jpg").write_bytes(a.read_bytes())
    write_jpeg(folder / "c.jpg", photos["flower"][:300, :400])
    return a.read_bytes()


def test_a_file_changed_between_hashing_and_measuring_is_stored_as_read(tmp_path, photos):
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    original = copies(folder, photos)
    edited = cv2.imencode(".jpg", cv2.GaussianBlur(photos["china"], (0, 0), 2)[:300, :400])[1].tobytes()
    summary = loader.extract([str(folder)], db_path=str(db), workers=2,
                             progress=OnSecondRead(lambda: (folder / "a.jpg").write_bytes(edited)))
    assert last_run(db)["status"] == "succeeded" and last_run(db)["message"] is None
    assert query(db, "select count(*) from raw.extract_errors") == [(0,)]
    # one interval per path, holding what was read last; the bytes b holds are measured through b
    rows = query(db, "select path, content_hash, valid_from_run, valid_to_run from raw.files order by path")
    assert [(os.path.basename(p), h, f, t) for p, h, f, t in rows] == [
        ("a.jpg", sha256(edited), 1, None), ("b.jpg", sha256(original), 1, None),
        ("c.jpg", sha256((folder / "c.jpg").read_bytes()), 1, None)]
    assert all(measured(db, p) for p, *_ in rows)
    assert (summary.counts.paths_added, summary.counts.paths_changed) == (3, 0)
    again = loader.extract([str(folder)], db_path=str(db), workers=2)
    assert (again.counts.files_read, again.counts.paths_added, again.counts.paths_changed) == (0, 0, 0)


def test_a_hashed_file_that_vanishes_before_measuring_leaves_no_empty_interval(tmp_path, photos):
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    original = copies(folder, photos)
    summary = loader.extract([str(folder)], db_path=str(db), workers=2,
                             progress=OnSecondRead(lambda: (folder / "a.jpg").unlink()))
    assert last_run(db)["status"] == "succeeded"
    assert query(db, "select count(*) from raw.files where valid_to_run = valid_from_run") == [(0,)]
    assert query(db, "select count(*) from raw.files where path = ?", [(folder / "a.jpg").as_posix()]) == [(0,)]
    assert query(db, "select path, error_kind from raw.extract_errors") == [((folder / "a.jpg").as_posix(), "vanished")]
    assert measured(db, (folder / "b.jpg").as_posix())   # the same bytes, through the path that still holds them
    assert query(db, "select count(*) from raw.metric_laplacian where content_hash = ?", [sha256(original)]) == [(1,)]
    assert (summary.counts.paths_added, summary.counts.paths_removed) == (2, 0)


# --- case 7: a per-file time limit ---------------------------------------------------------------


def jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """(offset, length, marker) of each marker segment, a scan's entropy-coded data included."""
    pos, out = 2, []
    while pos < len(data):
        marker = data[pos + 1]
        if marker == 0xD9:
            out.append((pos, 2, marker))
            break
        start = pos
        pos += 2 + int.from_bytes(data[pos + 2:pos + 4], "big")
        if marker == 0xDA:   # entropy-coded data runs to the next marker that is not a stuffed byte or RSTn
            while True:
                pos = data.index(b"\xff", pos)
                if data[pos + 1] == 0 or 0xD0 <= data[pos + 1] <= 0xD7:
                    pos += 2
                    continue
                break
        out.append((start, pos - start, marker))
    return out


def progressive_jpeg_with_repeated_last_scan(total_bytes: int = 1_000_000) -> bytes:
    """A 4096 x 4096 progressive JPEG whose last scan (its smallest: 33 bytes, luma AC 1-5) repeats
    until the file is ``total_bytes`` long. libjpeg decodes every repeat over every block: a
    millisecond each, about half a minute for 1 MB, and more the more it repeats."""
    from PIL import Image

    y, x = np.mgrid[0:4096, 0:4096]
    rgb = np.stack([x * 255 // 4096, y * 255 // 4096, (x + y) * 255 // 8192], -1).astype(np.uint8)
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "JPEG", quality=90, progressive=True)
    data = out.getvalue()
    segments = jpeg_segments(data)
    scans = [(offset, length) for offset, length, marker in segments if marker == 0xDA]
    offset, length = min(scans, key=lambda s: s[1])
    scan = data[offset:offset + length]
    end = segments[-1][0]
    repeats = max(1000, (total_bytes - len(data)) // len(scan))
    return data[:end] + scan * repeats + data[end:]


def test_a_file_that_takes_too_long_is_stopped_at_the_limit_and_the_run_goes_on(tmp_path, photos):
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    good = good_files(folder, photos, 6)
    slow = folder / "slow_progressive.jpg"
    slow.write_bytes(progressive_jpeg_with_repeated_last_scan())
    assert 900_000 < slow.stat().st_size < 1_100_000
    result = run_cli("extract", str(folder), "--db", str(db), "--workers", "2", "--file-time-limit", "2")
    assert result.returncode == 0, result.stderr
    assert last_run(db)["status"] == "succeeded" and last_run(db)["files_failed"] == 1
    assert all(measured(db, p) for p in good)
    (stage, kind, message, content_hash), = query(
        db, "select stage, error_kind, message, content_hash from raw.extract_errors where path = ?",
        [slow.as_posix()])
    assert (stage, kind) == ("worker", "time_limit") and "limit of 2 s" in message
    assert content_hash == sha256(slow.read_bytes())
    # tied to its content: the next run does not spend the limit on it again
    again = run_cli("extract", str(folder), "--db", str(db), "--workers", "2", "--file-time-limit", "2")
    assert again.returncode == 0 and last_run(db)["images_decoded"] == 0


# --- no library warnings on the terminal -----------------------------------------------------------


def test_libpng_and_libjpeg_warnings_do_not_reach_the_terminal(tmp_path, photos):
    """A PNG with a broken iCCP chunk and a JPEG with stray bytes before its end: both decode (with
    a warning from the C library, straight to stderr), both are measured, and the terminal stays clean."""
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    good = good_files(folder, photos, 2)
    rgb = photos["china"][:200, :300]
    png = cv2.imencode(".png", rgb)[1].tobytes()
    (folder / "bad_icc.png").write_bytes(
        png[:33] + chunk(b"iCCP", b"bogus\0\0" + zlib.compress(b"not an ICC profile" * 4)) + png[33:])
    jpeg = cv2.imencode(".jpg", rgb)[1].tobytes()
    (folder / "stray_bytes.jpg").write_bytes(jpeg[:-2] + b"\x00\x11\x22\x33" + jpeg[-2:])
    result = run_cli("extract", str(folder), "--db", str(db), "--workers", "2", "--quiet")
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and result.stdout == ""
    assert all(measured(db, p) for p in good + [(folder / n).as_posix() for n in ("bad_icc.png", "stray_bytes.jpg")])
