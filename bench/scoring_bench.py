"""SQL scoring vs scikit-learn: the dbt macro's SQL over N feature rows against predict_proba.

Rows are drawn from the shipped model's own class Gaussians (so every class
wins some), written to a DuckDB table, and scored two ways:
  sql      the SQL that `dbt compile` makes of the gaussian_nb_score macro, its result
           kept in memory (a temp table), on all cores and on one thread: the like
           of predict_proba's in-memory array; and, for the record, written to a
           table in the database file as a dbt model would be
  sklearn  GaussianNB.predict_proba on the same rows in memory, transforms included
Also checks the two agree (max |p_sql - p_sklearn|) and prints a few lines for run_bench.
Usage: python bench/scoring_bench.py [--rows 1000000] [--repeat 3] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "extract"))

from image_quality.lab.training import _invert, load_gaussian_nb, transform_features  # noqa: E402


def sample_rows(seed_csv: Path, rows: int, rng: np.random.Generator):
    clf, features, transforms, version = load_gaussian_nb(str(seed_csv))
    classes = rng.integers(0, len(clf.classes_), rows)
    z = clf.theta_[classes] + np.sqrt(clf.var_[classes]) * rng.standard_normal((rows, len(features)))
    X = np.column_stack([_invert(transforms[j], z[:, j]) for j in range(len(features))])
    return clf, features, transforms, X


def compiled_sql(db: Path) -> str:
    macro = ("{{ image_quality.gaussian_nb_score(features='bench.features', key_columns=['content_hash'], "
             "params='bench.params', label_column='quality_label') }}")
    env = dict(os.environ, IMAGE_QUALITY_DB=str(db))
    out = subprocess.run([sys.executable, "-c", "from dbt.cli.main import cli; cli()", "compile", "--quiet",
                          "--inline", macro, "--project-dir", str(REPO), "--profiles-dir", str(REPO),
                          "--target-path", str(db.parent / "target"), "--log-path", str(db.parent / "logs")],
                         capture_output=True, text=True, env=env, cwd=REPO)
    if out.returncode != 0:
        raise RuntimeError(f"dbt compile failed: {out.stdout[-2000:]} {out.stderr[-2000:]}")
    return out.stdout.strip()


def main() -> None:
    import duckdb

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "scoring")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    db = args.work / "scoring.duckdb"
    for suffix in ("", ".wal"):
        Path(str(db) + suffix).unlink(missing_ok=True)

    seed_csv = REPO / "seeds" / "gaussian_nb_params.csv"
    clf, features, transforms, X = sample_rows(seed_csv, args.rows, np.random.default_rng(0))
    con = duckdb.connect(str(db))
    con.execute("create schema bench")
    con.execute(f"create table bench.params as select * from read_csv('{seed_csv}', header = true)")
    table = {"content_hash": np.arange(args.rows).astype(str)}
    table.update({f: X[:, j] for j, f in enumerate(features)})
    import pyarrow as pa

    con.register("rows_in", pa.table(table))
    con.execute("create table bench.features as select * from rows_in")
    con.unregister("rows_in")
    con.close()

    sql = compiled_sql(db)
    con = duckdb.connect(str(db))

    def timed(statement: str) -> float:
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            con.execute(statement)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    walls = {}
    for threads in (os.cpu_count(), 1):
        con.execute(f"set threads = {threads}")
        walls[threads] = timed("create or replace temp table scored_in_memory as " + sql)
    con.execute(f"set threads = {os.cpu_count()}")
    to_disk = timed("create or replace table bench.scored as " + sql)

    times = []
    for _ in range(args.repeat):
        t = time.perf_counter()
        proba = clf.predict_proba(transform_features(X, transforms))
        times.append(time.perf_counter() - t)
    sk = statistics.median(times)

    order = np.argsort(np.arange(args.rows).astype(str))
    p_cols = ", ".join(f"p_{c}" for c in clf.classes_)
    sql_proba = con.execute(f"select {p_cols} from bench.scored order by content_hash").fetchnumpy()
    p_sql = np.column_stack([sql_proba[f"p_{c}"] for c in clf.classes_])
    max_diff = float(np.max(np.abs(p_sql - proba[order])))
    con.close()
    n = f"{args.rows:,}"
    cores = os.cpu_count()
    print(f"SQL scoring of {n} rows (dbt macro, DuckDB, result in memory): {walls[cores]:.3f} s on {cores} threads, "
          f"{walls[1]:.3f} s on 1; written to a table in the database file: {to_disk:.3f} s")
    print(f"scikit-learn predict_proba of the same {n} rows in memory: {sk:.3f} s")
    print(f"- SQL scoring within 2x of scikit-learn ({cores} threads): ratio {walls[cores] / sk:.2f} "
          f"({'met' if walls[cores] / sk <= 2 else 'NOT met'}); one thread: {walls[1] / sk:.2f}")
    print(f"- agreement: max |p_sql - p_sklearn| = {max_diff:.1e}")


if __name__ == "__main__":
    main()
