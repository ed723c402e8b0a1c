"""The Spark engine against the DuckDB engine, on one folder of real photographs and bad files.

Everything runs for real: the CLI in subprocesses, a Spark session on
local[2] with its Derby metastore (one warehouse for this module: Derby admits
one process, and the runs here take turns), dbt-spark in session mode, and
OpenCV's decoder made to crash on one file (crashing_decoder/, as in
test_worker_crash.py) under both engines. The Spark warehouse's Parquet files
are read back with DuckDB, so no second Spark session is needed to check them.

Both engines see the same two runs: the folder, then the folder with two new
photographs, one edited and one removed.
"""

from __future__ import annotations

import hashlib
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from conftest import run_cli, write_jpeg
from dbt_run import copy_project, run_dbt
from test_bad_input import png_header_claiming
from test_worker_crash import crashing_env

from image_quality.metrics import all_families

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # real Spark sessions and dbt builds

RELATIVE_TOLERANCE = 1e-12
SPARK_TIMEOUT_S = 1500
SPARK_DBT_TIMEOUT_S = 3600  # over 200 dbt nodes at a few seconds each; a loaded machine took 25 min
POISON_MARKER = b"SEGFAULT-IN-THE-DECODER"


def spark_ready() -> str | None:
    """Why the Spark engine cannot run here, or None."""
    try:
        import pyspark  # noqa: F401
    except ImportError:
        return "the spark extra is not installed (pip install -e '.[spark]')"
    from image_quality.engines.spark_session import SparkUnavailable, check_java

    try:
        check_java()
    except SparkUnavailable as exc:
        return str(exc)
    return None


@pytest.fixture(scope="module", autouse=True)
def _spark_available():
    reason = spark_ready()
    if reason and os.environ.get("CI"):
        pytest.fail(f"CI must run the Spark tests: {reason}")
    if reason:
        pytest.skip(reason)


def parquet(warehouse: Path, schema: str, table: str) -> str:
    """A Spark table's Parquet files, as DuckDB reads them (partition columns from the folder names)."""
    return (f"read_parquet('{warehouse}/{schema}.db/{table}/**/*.parquet', hive_partitioning = true, "
            f"hive_types_autocast = false)")


def rows(sql: str, db: Path | None = None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True) if db else duckdb.connect()
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


@dataclass
class Engines:
    folder: Path
    db: Path                 # the DuckDB engine's warehouse
    warehouse: Path          # the Spark engine's
    spark_runs: list         # CompletedProcess of each Spark extract
    duckdb_labels_run1: dict  # path -> (label, p_*) from marts.image_quality after run 1
    spark_dbt_output: str
    poisoned: Path
    new_hashes: set          # content the second run brought
    spark_labels_run1: dict


def make_folder(folder: Path, photos) -> Path:
    """Twelve distinct JPEGs from real photographs, a copy, and the bad files."""
    names = sorted(photos)
    for i in range(12):
        img = photos[names[i % len(names)]]
        h, w = img.shape[:2]
        sub = "nested/" if i % 3 == 0 else ""
        write_jpeg(folder / f"{sub}photo {i:02d}.jpg", img[i * 7 % (h // 4):, i * 11 % (w // 4):], 85 + i % 10)
    shutil.copy(folder / "photo 01.jpg", folder / "copy of photo 01.JPG")
    good = (folder / "photo 02.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(good[: len(good) * 2 // 3])
    (folder / "notes.jpg").write_bytes(b"hello, I am text renamed to .jpg\n")
    (folder / "bomb.png").write_bytes(png_header_claiming(50_000, 50_000))
    poisoned = write_jpeg(folder / "poison.jpg", photos["china"][:300, :400])
    poisoned.write_bytes(poisoned.read_bytes() + POISON_MARKER)
    return poisoned


def second_run_changes(folder: Path, photos) -> None:
    names = sorted(photos)
    write_jpeg(folder / "new" / "added 1.jpg", photos[names[-1]][10:, 20:])
    write_jpeg(folder / "new" / "added 2.png", photos[names[-2]][:200, :300])
    write_jpeg(folder / "photo 04.jpg", photos[names[4]][40:, 40:], 70)   # edited: new bytes, same path
    (folder / "photo 05.jpg").unlink()                                      # removed


def spark_extract(folder: Path, warehouse: Path, *extra: str):
    env = dict(crashing_env(), IMAGE_QUALITY_SPARK_WAREHOUSE=str(warehouse))
    return run_cli("extract", str(folder), "--engine", "spark", "--spark-master", "local[2]", *extra,
                   env=env, timeout=SPARK_DBT_TIMEOUT_S)


def duckdb_extract(folder: Path, db: Path):
    done = run_cli("extract", str(folder), "--db", str(db), "--workers", "2", "--quiet", env=crashing_env())
    assert done.returncode == 0, done.stderr
    return done


def spark_dbt(project: Path, warehouse: Path, *args: str) -> tuple[int, str]:
    env = {"IMAGE_QUALITY_SPARK_WAREHOUSE": str(warehouse), "IMAGE_QUALITY_SPARK_MASTER": "local[2]",
           "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    # dbt-spark takes a few seconds a node (the project has over 200): far longer than on DuckDB
    return run_dbt(project, Path("unused.duckdb"), *args, "--target", "spark", env=env, timeout=SPARK_DBT_TIMEOUT_S)


def labels(sql_from: str, db: Path | None = None) -> dict:
    """path -> (quality_label, p_<class> in class order), whatever classes the model has."""
    con = duckdb.connect(str(db), read_only=True) if db else duckdb.connect()
    try:
        cur = con.execute(f"select * from {sql_from}")
        names = [d[0] for d in cur.description]
        found = cur.fetchall()
    finally:
        con.close()
    p_columns = sorted(n for n in names if n.startswith("p_"))
    assert p_columns, names
    return {r[names.index("path")]: (r[names.index("quality_label")], *(r[names.index(p)] for p in p_columns))
            for r in found}


@pytest.fixture(scope="module")
def engines(tmp_path_factory, photos) -> Engines:
    root = tmp_path_factory.mktemp("spark_engine")
    folder, db, warehouse = root / "uploads", root / "duck.duckdb", root / "spark-warehouse"
    poisoned = make_folder(folder, photos)
    project = copy_project(root / "project")

    duckdb_extract(folder, db)
    code, out = run_dbt(project, db, "build")
    assert code == 0, out[-3000:]
    duckdb_labels = labels("marts.image_quality", db)
    first = spark_extract(folder, warehouse)
    assert first.returncode == 0, first.stderr[-3000:]
    code, spark_dbt_output = spark_dbt(project, warehouse, "build")
    assert code == 0, spark_dbt_output[-5000:]
    spark_labels_run1 = labels(parquet(warehouse, "marts", "image_quality"))

    before = {r[0] for r in rows(f"select content_hash from {parquet(warehouse, 'raw', 'files')}")}
    second_run_changes(folder, photos)
    duckdb_extract(folder, db)
    second = spark_extract(folder, warehouse)
    assert second.returncode == 0, second.stderr[-3000:]
    after = {r[0] for r in rows(f"select content_hash from {parquet(warehouse, 'raw', 'files')}")}
    # image_scores alone, incrementally: insert_overwrite of the partitions holding new content
    code, out = spark_dbt(project, warehouse, "run", "--select", "image_scores", "image_score_history")
    assert code == 0, out[-5000:]
    code, out = run_dbt(project, db, "build")
    assert code == 0, out[-3000:]
    return Engines(folder, db, warehouse, [first, second], duckdb_labels, spark_dbt_output, poisoned,
                   after - before, spark_labels_run1)


def test_spark_metric_values_equal_duckdb_within_1e_12(engines):
    for family in all_families():
        columns = list(family.columns)
        duck = {r[0]: r[1:] for r in rows(
            f"select content_hash, metric_version, {', '.join(columns)} from raw.{family.table}", engines.db)}
        spark = {r[0]: r[1:] for r in rows(
            f"select content_hash, metric_version, {', '.join(columns)} "
            f"from {parquet(engines.warehouse, 'raw', family.table)}")}
        assert len(duck) >= 12 and spark.keys() == duck.keys(), family.name
        for content_hash, values in duck.items():
            for column, a, b in zip(["metric_version", *columns], values, spark[content_hash]):
                if isinstance(a, float) and not (a is None or b is None):
                    same = (math.isnan(a) and math.isnan(b)) or abs(a - b) <= RELATIVE_TOLERANCE * max(abs(a), abs(b))
                    assert same, (family.name, column, content_hash, a, b)
                else:
                    assert a == b, (family.name, column, content_hash, a, b)


def test_spark_keeps_the_same_history_and_counts(engines):
    history = ("select path, content_hash, size_bytes, cast(valid_from_run as bigint) as valid_from_run, valid_to_run "
               "from {} order by path, valid_from_run")
    duck = rows(history.format("raw.files"), engines.db)
    spark = rows(history.format(parquet(engines.warehouse, "raw", "files")))
    assert spark == duck
    assert any(r[4] == 2 for r in spark) and any(r[3] == 2 for r in spark)  # closed and opened by run 2
    counts = ("cast(run_id as bigint) as run_id, status, files_scanned, files_unchanged, paths_added, paths_changed, paths_removed, "
              "content_new, files_failed, images_decoded")
    duck_runs = rows(f"select {counts} from raw.load_runs order by run_id", engines.db)
    spark_runs = rows(f"select {counts} from {parquet(engines.warehouse, 'raw', 'load_runs')} order by run_id")
    assert spark_runs[:2] == duck_runs
    assert duck_runs[1][2:8] == (18, 15, 2, 1, 1, 3)  # scanned, unchanged, added, changed, removed, new content
    stat = "select path, content_hash, size_bytes from {} order by path"
    assert rows(stat.format(parquet(engines.warehouse, "raw", "stat_cache"))) == \
        rows(stat.format("raw.stat_cache"), engines.db)


def test_bad_input_gives_the_same_error_rows_and_a_crash_costs_one_file(engines):
    errors = "select path, stage, error_kind, content_hash from {} order by path, stage"
    duck = rows(errors.format("raw.extract_errors"), engines.db)
    spark = rows(errors.format(parquet(engines.warehouse, "raw", "extract_errors")))
    assert spark == duck
    kinds = {Path(r[0]).name: (r[1], r[2]) for r in spark}
    assert kinds == {"truncated.jpg": ("decode", "truncated"), "notes.jpg": ("decode", "not_an_image"),
                     "bomb.png": ("decode", "too_many_pixels"), "poison.jpg": ("worker", "worker_crashed")}
    poison_hash = hashlib.sha256(engines.poisoned.read_bytes()).hexdigest()
    assert (str(engines.poisoned), "worker", "worker_crashed", poison_hash) in spark
    # every good photograph beside the crash was measured, on both engines
    measured = rows(f"select count(distinct content_hash) from {parquet(engines.warehouse, 'raw', 'metric_laplacian')}")
    assert measured == [(12 + 3,)]


def test_a_spark_rerun_measures_only_new_content(engines):
    first, second = engines.spark_runs
    assert "files scanned 18, unchanged 15" in second.stdout, second.stdout
    computed = {}
    for family in all_families():
        for run, content_hash in rows(f"select computed_run, content_hash "
                                      f"from {parquet(engines.warehouse, 'raw', family.table)}"):
            computed.setdefault(int(run), set()).add(content_hash)
    # run 2 computed a metric row for the three new contents only: none for the unchanged files
    assert computed[2] == engines.new_hashes and len(engines.new_hashes) == 3
    assert "Spark session on local[2] started in" in first.stdout


def test_dbt_on_spark_builds_every_node_and_labels_like_duckdb(engines):
    out = engines.spark_dbt_output
    assert "Completed successfully" in out and " ERROR=0 " in out, out[-3000:]
    assert list((engines.warehouse / "marts.db" / "image_quality").glob("*.parquet"))
    spark, duck = engines.spark_labels_run1, engines.duckdb_labels_run1
    assert spark.keys() == duck.keys() and len(spark) == 17
    for path, (label, *probabilities) in duck.items():
        assert spark[path][0] == label, path
        assert all(a == b or abs(a - b) <= 1e-9 for a, b in zip(probabilities, spark[path][1:]) if a is not None)
    assert sum(v[0] is not None for v in spark.values()) == 13  # 12 photographs and the copy


def test_incremental_image_scores_on_parquet_keeps_old_rows_and_scores_the_new(engines):
    scores = "select content_hash, quality_label, model_version from {} order by content_hash"
    spark = rows(scores.format(parquet(engines.warehouse, "marts", "image_scores")))
    duck = rows(scores.format("marts.image_scores"), engines.db)
    assert spark == duck and len(spark) == 15
    invocations = rows(f"select count(distinct dbt_invocation_id), count(distinct content_hash) "
                       f"from {parquet(engines.warehouse, 'marts', 'image_scores')} "
                       f"where content_hash in ({', '.join(repr(h) for h in engines.new_hashes)})")
    assert invocations == [(1, 3)]
    # the rows scored by the first build were kept, not rescored
    kept = rows(f"select count(distinct dbt_invocation_id) from {parquet(engines.warehouse, 'marts', 'image_scores')}")
    assert kept == [(2,)]


def test_a_rerun_while_nothing_changed_reads_nothing(engines):
    again = spark_extract(engines.folder, engines.warehouse)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "unchanged 18, read 0, decoded 0" in again.stdout, again.stdout
    runs = rows(f"select max(run_id) from {parquet(engines.warehouse, 'raw', 'load_runs')}")
    for family in all_families():
        assert rows(f"select count(*) from {parquet(engines.warehouse, 'raw', family.table)} "
                    f"where computed_run = {int(runs[0][0])}") == [(0,)]
