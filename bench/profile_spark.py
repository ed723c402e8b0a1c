"""Where a Spark extract's time goes: one measuring task, and the steps of one run.

`python bench/profile_spark.py FOLDER [--master local[2]] [--files 75]`

1. **one task without the JVM**: the first ``--files`` images of FOLDER (about
   what one of the eight tasks of a 600-image run on local[2] gets) through
   ``spark_tasks.measure_batches`` exactly as an executor's Python worker runs
   it (the one-process measuring pool, Arrow rows out), beside
   ``measuring.measure_file`` on the same files in this process: the
   difference is the task's own cost (pool start, IPC, rows).
2. **one run**: a cold extract of FOLDER into a fresh warehouse, with the wall
   time of each step (session, schema, walk, plan, measuring, counters, writes).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extract"))


class _Broadcast:
    def __init__(self, value):
        self.value = value


def profile_task(files: list[Path]) -> None:
    import numpy as np
    import pyarrow as pa

    from image_quality import paths
    from image_quality.engines import spark_tasks
    from image_quality.measuring import FileTask, init_worker, measure_file
    from image_quality.metrics import all_families

    families = all_families()
    layout = [(f.name, dict(f.columns)) for f in families]
    versions = {f.name: int(f.version) for f in families}
    stored = [paths.to_text(str(p.resolve())) for p in files]
    batch = pa.RecordBatch.from_pylist(
        [{"path": p, "source_root": "/", "families": None, "expected_hash": None} for p in stored],
        schema=pa.schema([("path", pa.string()), ("source_root", pa.string()),
                          ("families", pa.list_(pa.string())), ("expected_hash", pa.string())]))
    init_worker(np.zeros(0, dtype=np.uint64))
    started = time.perf_counter()
    for p in stored:
        measure_file(FileTask(p))
    direct = time.perf_counter() - started
    started = time.perf_counter()
    rows = sum(b.num_rows for b in spark_tasks.measure_batches(
        [batch.slice(i, 32) for i in range(0, batch.num_rows, 32)], layout, versions,
        _Broadcast(np.zeros(0, dtype=np.uint64)), rows_per_batch=32))
    task = time.perf_counter() - started
    print(f"one task of {len(files)} files: measure_file in-process {direct:.2f} s "
          f"({1000 * direct / len(files):.1f} ms a file); the Spark task's function {task:.2f} s "
          f"({rows} rows): its own cost {task - direct:+.2f} s ({100 * (task - direct) / direct:+.0f}%)")


def profile_run(folder: Path, master: str) -> None:
    from image_quality.engines import spark_extract, spark_tables

    steps: list[tuple[str, float]] = []

    def timed(owner, name):
        inner = getattr(owner, name)

        def wrapper(*args, **kwargs):
            started = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            finally:
                steps.append((name, time.perf_counter() - started))
        setattr(owner, name, wrapper)

    for name in ("ensure_schema", "begin_run", "register_families", "plan_history", "finish_run"):
        timed(spark_tables, name)
    for name in ("discover", "plan", "measure", "_counters"):
        timed(spark_extract.SparkRun, name)
    warehouse = Path(tempfile.mkdtemp(prefix="profile-spark-"))
    try:
        summary = spark_extract.extract([str(folder)], master=master, warehouse=str(warehouse))
    finally:
        shutil.rmtree(warehouse, ignore_errors=True)
    print(f"one run on {master}: {summary.seconds:.1f} s, of which session start-up {summary.session_seconds:.1f} s")
    for name, seconds in steps:
        print(f"  {name:22s} {seconds:6.2f} s")
    accounted = sum(s for _, s in steps) + summary.session_seconds
    print(f"  {'writes and the rest':22s} {summary.seconds - accounted:6.2f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--files", type=int, default=75)
    args = parser.parse_args()
    files = sorted(args.folder.rglob("*.jpg"))[: args.files]
    profile_task(files)
    profile_run(args.folder, args.master)


if __name__ == "__main__":
    main()
