"""Issue 18 on the Spark engine: one bad file costs that file only, and Spark records what DuckDB records.

One real Spark extract (local[2]) over two sources, twice:

* ``poison/``: a PNG whose acTL chunk claims 2^31-1 animation frames (Pillow
  counts 2^31, past an ``integer`` column) beside good photographs (case 1);
* ``names/``: a photograph whose name holds a ``:`` (case 8), a zero-byte file,
  a photograph whose name is not valid UTF-8, and a photograph that the second
  run finds truncated to 0 bytes (case 9). The DuckDB engine extracts the same
  folder, and the two must store the same history and the same error rows.

The crafted files are generated here. docs/RELIABILITY.md lists the cases.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from conftest import run_cli, write_jpeg
from test_spark_engine import _spark_available, parquet, rows  # noqa: F401  (_spark_available: the module's fixture)

from image_quality import paths

pytestmark = [pytest.mark.spark, pytest.mark.slow]

EMPTY_HASH = hashlib.sha256(b"").hexdigest()
NOT_UTF8 = os.fsdecode(b"caf\xe9 photo.jpg")  # the Latin-1 name of a photograph


def png_claiming_frames(rgb, frames: int) -> bytes:
    """A valid PNG with an acTL chunk (APNG) after its IHDR claiming ``frames`` frames."""
    out = io.BytesIO()
    Image.fromarray(rgb).save(out, "PNG")
    png = out.getvalue()
    data = struct.pack(">II", frames, 0)
    actl = struct.pack(">I", len(data)) + b"acTL" + data + struct.pack(">I", zlib.crc32(b"acTL" + data))
    ihdr_end = 8 + 8 + 13 + 4  # signature, IHDR length and type, IHDR data, CRC
    return png[:ihdr_end] + actl + png[ihdr_end:]


def duckdb_extract(folder: Path, db: Path):
    done = run_cli("extract", str(folder), "--db", str(db), "--workers", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def hostile_spark(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp("spark_hostile")
    poison, names, warehouse, db = root / "poison", root / "names", root / "spark-warehouse", root / "duck.duckdb"
    china, flower = photos["china"], photos["flower"]
    for i in range(4):
        write_jpeg(poison / f"good {i}.jpg", china[i * 20:, i * 30:])
    (poison / "frames.png").write_bytes(png_claiming_frames(china[:200, :300, ::-1].copy(), 2**31 - 1))
    write_jpeg(names / "scan 12:30:00.jpg", flower[:300, :400])
    write_jpeg(names / NOT_UTF8, flower[50:350, 100:500])
    (names / "empty.jpg").write_bytes(b"")
    write_jpeg(names / "to be emptied.jpg", china[100:, 200:])

    first = _spark(poison, names, warehouse)
    duckdb_extract(names, db)
    duckdb_extract(poison, root / "poison.duckdb")
    (names / "to be emptied.jpg").write_bytes(b"")  # truncated to 0 bytes between the runs
    os.utime(names / "to be emptied.jpg", ns=(10**18, 10**18))
    second = _spark(poison, names, warehouse)
    duckdb_extract(names, db)
    return root, poison, names, warehouse, db, [first, second]


def _spark(poison: Path, names: Path, warehouse: Path):
    return run_cli("extract", str(poison), str(names), "--engine", "spark", "--spark-master", "local[2]",
                   env={"IMAGE_QUALITY_SPARK_WAREHOUSE": str(warehouse)}, timeout=1500)


def under(folder: Path, table: str, warehouse: Path, columns: str) -> list[tuple]:
    return rows(f"select {columns} from {parquet(warehouse, 'raw', table)} "
                f"where starts_with(path, '{paths.to_text(str(folder))}/') order by all")


def test_case_1_a_png_claiming_2_31_frames_costs_that_file_only_on_spark(hostile_spark):
    root, poison, names, warehouse, db, runs = hostile_spark
    for run in runs:
        assert run.returncode == 0, run.stderr[-3000:]
    statuses = rows(f"select status from {parquet(warehouse, 'raw', 'load_runs')} order by run_id")
    assert statuses == [("succeeded",), ("succeeded",)]
    frames_png = paths.to_text(str(poison / "frames.png"))
    png_hash = hashlib.sha256((poison / "frames.png").read_bytes()).hexdigest()
    # every good photograph measured, in every family
    measured = rows(f"""select count(distinct f.path) from {parquet(warehouse, 'raw', 'files')} f
                         join {parquet(warehouse, 'raw', 'metric_laplacian')} m using (content_hash)
                        where starts_with(f.path, '{paths.to_text(str(poison))}/good ')""")
    assert measured == [(4,)]
    # the PNG is recorded: its interval, and a row for every family or an error naming the family
    assert rows(f"select content_hash from {parquet(warehouse, 'raw', 'files')} where path = '{frames_png}'") \
        == [(png_hash,)]
    from image_quality.metrics import all_families

    errors = rows(f"select stage, error_kind, family from {parquet(warehouse, 'raw', 'extract_errors')} "
                  f"where content_hash = '{png_hash}' and run_id = 1")
    refused = any(stage == "decode" for stage, _, _ in errors)
    for family in all_families():
        has_row = rows(f"select count(*) from {parquet(warehouse, 'raw', family.table)} "
                       f"where content_hash = '{png_hash}'") == [(1,)]
        assert has_row or refused or any(f == family.name for _, _, f in errors), family.name
    # and it is recorded as the DuckDB engine records it
    recorded = "select path, stage, error_kind, content_hash from {} where path = '" + frames_png + "' order by all"
    assert rows(recorded.format(parquet(warehouse, "raw", "extract_errors"))) == \
        rows(recorded.format("raw.extract_errors"), root / "poison.duckdb")
    # the second run reads the one changed file only, and measures nothing
    assert "files scanned 9, unchanged 8, read 1, decoded 0" in runs[1].stdout, runs[1].stdout


def test_case_8_a_colon_in_a_file_name_works_on_spark_as_on_duckdb(hostile_spark):
    root, poison, names, warehouse, db, runs = hostile_spark
    colon = paths.to_text(str(names / "scan 12:30:00.jpg"))
    spark = rows(f"""select f.path, m.laplacian_var from {parquet(warehouse, 'raw', 'files')} f
                      join {parquet(warehouse, 'raw', 'metric_laplacian')} m using (content_hash)
                     where f.path = '{colon}'""")
    duck = rows(f"""select f.path, m.laplacian_var from raw.files f join raw.metric_laplacian m using (content_hash)
                     where f.path = '{colon}'""", db)
    assert len(spark) == 1 and spark[0][0] == duck[0][0]
    assert abs(spark[0][1] - duck[0][1]) <= 1e-12 * abs(duck[0][1])


def test_case_9_spark_records_zero_byte_and_non_utf8_files_as_duckdb_does(hostile_spark):
    root, poison, names, warehouse, db, runs = hostile_spark
    history = "path, content_hash, size_bytes, cast(valid_from_run as bigint), valid_to_run"
    spark_history = under(names, "files", warehouse, history)
    duck_history = rows(f"select {history} from raw.files order by all", db)
    assert spark_history == duck_history
    stored = {r[0] for r in spark_history}
    assert paths.to_text(str(names / NOT_UTF8)) in stored and "\\xe9" in paths.to_text(str(names / NOT_UTF8))
    assert (paths.to_text(str(names / "empty.jpg")), EMPTY_HASH, 0, 1, None) in spark_history
    errors = "path, content_hash, stage, error_kind, cast(run_id as bigint)"
    assert under(names, "extract_errors", warehouse, errors) == \
        rows(f"select {errors} from raw.extract_errors order by all", db)
    assert (paths.to_text(str(names / "empty.jpg")), EMPTY_HASH, "decode", "empty_file", 1) in \
        under(names, "extract_errors", warehouse, errors)


def test_case_9_a_file_truncated_to_0_bytes_is_changed_not_removed(hostile_spark):
    root, poison, names, warehouse, db, runs = hostile_spark
    emptied = paths.to_text(str(names / "to be emptied.jpg"))
    intervals = rows(f"select content_hash, cast(valid_from_run as bigint), valid_to_run "
                     f"from {parquet(warehouse, 'raw', 'files')} where path = '{emptied}' order by 2")
    assert len(intervals) == 2 and intervals[0][1:] == (1, 2) and intervals[1] == (EMPTY_HASH, 2, None)
    assert rows(f"select paths_removed, paths_changed from {parquet(warehouse, 'raw', 'load_runs')} "
                f"where run_id = 2") == [(0, 1)]
