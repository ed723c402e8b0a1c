"""The Spark engine on a real cluster: a standalone master and two workers, separate JVMs on 127.0.0.1.

``extract --engine spark --spark-master spark://...`` and ``dbt build --target
spark`` run on the cluster (spark_cluster.py starts it from pyspark's jars);
the labels must equal the DuckDB engine's on the same folder, and the work
must have run in the workers' executors, not in the driver.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import run_cli, write_jpeg
from dbt_run import copy_project, run_dbt
from spark_cluster import StandaloneCluster
from test_spark_engine import SPARK_DBT_TIMEOUT_S, SPARK_TIMEOUT_S, _spark_available, labels, parquet, rows  # noqa: F401

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def on_cluster(tmp_path_factory, photos):
    root = tmp_path_factory.mktemp("spark_cluster")
    folder, db, warehouse = root / "uploads", root / "duck.duckdb", root / "spark-warehouse"
    names = sorted(photos)
    for i in range(8):
        img = photos[names[i % len(names)]]
        write_jpeg(folder / ("nested" if i % 2 else "") / f"photo {i}.jpg", img[i * 9:, i * 13:], 80 + i)
    (folder / "notes.jpg").write_bytes(b"not an image\n")
    project = copy_project(root / "project")

    done = run_cli("extract", str(folder), "--db", str(db), "--workers", "2", "--quiet")
    assert done.returncode == 0, done.stderr
    code, out = run_dbt(project, db, "build")
    assert code == 0, out[-3000:]
    duckdb_labels = labels("marts.image_quality", db)

    with StandaloneCluster(root / "cluster") as cluster:
        env = {"IMAGE_QUALITY_SPARK_WAREHOUSE": str(warehouse), "IMAGE_QUALITY_SPARK_MASTER": cluster.master_url,
               "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
        extract = run_cli("extract", str(folder), "--engine", "spark", "--spark-master", cluster.master_url,
                          env=env, timeout=SPARK_TIMEOUT_S)
        assert extract.returncode == 0, extract.stderr[-3000:]
        code, dbt_out = run_dbt(project, Path("unused.duckdb"), "build", "--target", "spark", env=env,
                               timeout=SPARK_DBT_TIMEOUT_S)
        assert code == 0, dbt_out[-5000:]
        state = cluster.state()
        pids = cluster.pids()
    return duckdb_labels, warehouse, extract, state, pids, root / "cluster"


def test_extract_and_dbt_build_on_a_standalone_cluster_label_like_duckdb(on_cluster):
    duckdb_labels, warehouse, extract, state, _, _ = on_cluster
    assert f"Spark session on spark://127.0.0.1:" in extract.stdout, extract.stdout
    assert "files scanned 9, unchanged 0, read 9, decoded 8" in extract.stdout, extract.stdout
    spark_labels = labels(parquet(warehouse, "marts", "image_quality"))
    assert spark_labels.keys() == duckdb_labels.keys() and len(spark_labels) == 9
    for path, (label, *probabilities) in duckdb_labels.items():
        assert spark_labels[path][0] == label, path
        assert all(a == b or abs(a - b) <= 1e-9 for a, b in zip(probabilities, spark_labels[path][1:])
                   if a is not None)
    assert sum(v[0] is not None for v in spark_labels.values()) == 8
    assert rows(f"select error_kind from {parquet(warehouse, 'raw', 'extract_errors')}") == [("not_an_image",)]


def test_the_work_ran_on_two_workers_and_the_cluster_is_gone_after(on_cluster):
    _, _, _, state, pids, work = on_cluster
    assert state["aliveworkers"] == 2 and state["cores"] == 2
    finished = [app["name"] for app in state["completedapps"]]
    assert "image-quality" in finished  # the extract ran as an application of this master
    # the workers launched executors (each executor keeps a stderr log in its work folder)
    executor_logs = [p for p in work.glob("worker*-work/app-*/*/stderr")]
    assert {p.parts[-4] for p in executor_logs} == {"worker0-work", "worker1-work"}
    for pid in pids:  # every JVM the test started has ended
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
