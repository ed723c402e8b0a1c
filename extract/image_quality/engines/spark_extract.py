"""``image-quality extract SOURCE... --engine spark``: one load run as Spark jobs.

The run takes the same steps as the DuckDB loader (loader.py), with the same
plan (plan.py) and the same measuring code (measuring.py); only who maps the
files and where the rows go differ:

1. **discover**: Spark's ``binaryFile`` source lists the sources recursively
   (length and modification time only; no bytes are read) into the view
   ``discovered``, filtered by the loader's image extensions.
2. **read**: the plan's files to read are loaded with ``binaryFile`` (their
   bytes) and hashed in ``mapInArrow``; what each path holds is recorded.
3. **measure**: the plan's stale content (every hash a present path holds
   that lacks a family at its current version: new content, a version bump, a
   run that died) is loaded again, one path per hash, and ``mapInArrow`` runs
   measuring.measure_file over it, a batch of files per task, inside the
   measuring pool (parallel.MeasuringPool, one process per task), so a file
   that crashes its decoder costs that file only. Planning in SQL between the
   two reads is what decodes identical bytes once, whatever task holds them;
   hashing costs a fraction of a decode.
4. **close**: paths under the sources that were not found are closed in the
   history, and the run is marked succeeded.

Rows land in the Parquet tables of database ``raw`` (engines/spark_tables.py).
What differs from the DuckDB engine: ``mtime_ns`` is Hadoop's modification
time (milliseconds, times 10^6); Spark's listing skips names that start with
``_`` as well as ``.``; a path on a non-local filesystem is stored as its URI.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .. import __version__
from ..sources.base import IMAGE_EXTENSIONS
from ..sources.local import check_sources
from ..loader import RunSummary
from ..measuring import MAX_FILE_BYTES
from ..metrics import all_families
from ..warehouse import RunCounts
from . import spark_tables as tables
from .spark_session import SparkUnavailable, resolve_warehouse, start_session

SCHEMA = tables.SCHEMA
RESULT_ROWS_PER_BATCH = 16

# binaryFile gives URIs; the stored form of a local file is its path, with a
# backslash written twice (paths.to_text: so that \xNN stays unambiguous).
_STORED_PATH = r"replace(regexp_replace(uri, '^file:', ''), '\\', '\\\\')"


@dataclass
class SparkRunSummary(RunSummary):
    session_seconds: float = 0.0
    master: str = ""

    def lines(self) -> list[str]:
        return super().lines() + [f"  Spark session on {self.master} started in {self.session_seconds:.1f} s "
                                  f"(included above)"]


def extract(sources: list[str], *, master: str | None = None, warehouse: str | None = None,
            verify: bool = False) -> SparkRunSummary:
    """Run one load run on Spark; raises SourceError / SparkUnavailable when it cannot start."""
    started = time.monotonic()
    roots = check_sources(sources)
    families = all_families()
    warehouse_path = resolve_warehouse(warehouse)
    spark = start_session(master, warehouse_path)
    session_seconds = time.monotonic() - started
    try:
        try:
            tables.ensure_schema(spark, families)
        except Exception as exc:  # the metastore could not be opened
            raise SparkUnavailable(_metastore_problem(warehouse_path, exc)) from None
        dead = tables.fail_dead_runs(spark)
        run_id = tables.start_run(spark, roots, __version__)
        run = _SparkRun(spark, run_id, families, roots)
        try:
            run.execute(verify)
        except BaseException as exc:
            reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
            try:
                tables.finish_run(spark, run_id, "failed", run.counts, reason[:2000])
            except Exception:
                pass  # the next run marks it failed
            raise
        return SparkRunSummary(run_id, str(warehouse_path), run.counts, time.monotonic() - started, dead,
                               session_seconds, spark.sparkContext.master)
    finally:
        spark.stop()


def _metastore_problem(warehouse: Path, exc: Exception) -> str:
    text = str(exc)
    if "Derby" in text or "metastore" in text.lower() or "HiveException" in text:
        return (f"the Spark warehouse {warehouse} is in use by another Spark process (its embedded "
                f"Derby metastore admits one); try again when it has finished")
    return f"cannot open the Spark warehouse {warehouse}: {text.strip().splitlines()[0][:300]}"


class _SparkRun:
    def __init__(self, spark, run_id: int, families, roots: list[str]):
        self.spark = spark
        self.run_id = run_id
        self.families = families
        self.roots = roots
        self.counts = RunCounts()
        self._gone: list[str] = []   # to read, but gone when Spark read them

    def execute(self, verify: bool) -> None:
        tables.register_families(self.spark, self.families, self.run_id)
        self.spark.createDataFrame([], "path string").createOrReplaceTempView("hashed")
        self._discover()
        self._read_changed(verify)
        self._complete_content()
        self.spark.createDataFrame([(p,) for p in self._gone], "path string").createOrReplaceTempView("gone")
        self.spark.sql("select path from discovered where path not in (select path from gone)") \
            .createOrReplaceTempView("present")
        self.counts.paths_removed = tables.close_removed_paths(self.spark, self.run_id, self.roots, "present")
        tables.finish_run(self.spark, self.run_id, "succeeded", self.counts)

    # -- the steps -------------------------------------------------------------------

    def _discover(self) -> None:
        from pyspark.sql import functions as F

        listings = []
        for order, root in enumerate(self.roots):
            is_folder = Path(root).is_dir()
            source_root = root if is_folder else str(Path(root).parent)
            listing = (self.spark.read.format("binaryFile").option("recursiveFileLookup", "true")
                       .load(_glob_escape(root)).select("path", "length", "modificationTime"))
            listings.append(listing.select(F.col("path").alias("uri"), F.lit(source_root).alias("source_root"),
                                           F.lit(order).alias("root_order"), "length", "modificationTime"))
        found = listings[0]
        for listing in listings[1:]:
            found = found.unionByName(listing)
        extensions = "|".join(sorted(e.lstrip(".") for e in IMAGE_EXTENSIONS))
        found.createOrReplaceTempView("listing")
        # a file under two sources keeps its first sighting, as on DuckDB
        self.spark.sql(f"""
            select uri, path, source_root, size_bytes, mtime_ns, cast(null as string) as etag from (
                select uri, {_STORED_PATH} as path, source_root, length as size_bytes,
                       unix_micros(modificationTime) * 1000 as mtime_ns,
                       row_number() over (partition by uri order by root_order) as sighting
                  from listing
                 where lower(uri) rlike '\\\\.({extensions})$')
             where sighting = 1""").localCheckpoint().createOrReplaceTempView("discovered")
        self.counts.files_scanned = self.spark.sql("select count(*) from discovered").first()[0]

    def _read_changed(self, verify: bool) -> None:
        from .. import plan

        rows = self.spark.sql(f"""
            select d.uri, p.path, p.source_root, p.size_bytes, p.size_shared
              from ({plan.read_plan_sql(SCHEMA, 'true' if verify else 'false')}) p
              join discovered d on d.path = p.path""").collect()
        self.counts.files_unchanged = self.counts.files_scanned - len(rows)
        too_large = [r for r in rows if r.size_bytes > MAX_FILE_BYTES]
        if too_large:
            self._record_unread(too_large)
        tasks = [(r.uri, r.path, r.source_root, True, None, None) for r in rows if r.size_bytes <= MAX_FILE_BYTES]
        self._measure(tasks, hash_only=True)

    def _complete_content(self) -> None:
        from .. import plan

        self.spark.sql(f"with {plan.unchanged_cte(SCHEMA)} select * from unchanged").localCheckpoint() \
            .createOrReplaceTempView("unchanged_files")
        sql = plan.stale_plan_sql(self.families, SCHEMA, "array_sort(collect_list(m.family))", "unchanged_files")
        rows = self.spark.sql(f"""
            select d.uri, s.path, s.source_root, s.families, s.content_hash
              from ({sql}) s join discovered d on d.path = s.path""").collect()
        self._measure([(r.uri, r.path, r.source_root, False, list(r.families), r.content_hash) for r in rows])

    # -- measuring and writing ---------------------------------------------------------

    def _measure(self, tasks: list[tuple], hash_only: bool = False) -> None:
        """Read the tasks' files with binaryFile, hash (and measure) them in mapInArrow, write the rows."""
        if not tasks:
            return
        from pyspark.sql import functions as F

        spark = self.spark
        spark.createDataFrame(tasks, "uri string, path string, source_root string, hash_only boolean, "
                                     "families array<string>, expected_hash string") \
            .createOrReplaceTempView("tasks")
        content = (spark.read.format("binaryFile").load([_glob_escape(t[0]) for t in tasks])
                   .select(F.col("path").alias("uri"), "content", "modificationTime"))
        inputs = content.join(F.broadcast(spark.table("tasks")), "uri").select(
            "path", "hash_only", "families", "expected_hash", "content",
            (F.unix_micros("modificationTime") * 1000).alias("mtime_ns"))
        layout = [(f.name, dict(f.columns)) for f in self.families]
        results = inputs.mapInArrow(lambda batches: _measure_batches(batches, layout, pool=not hash_only),
                                    _result_schema(layout)).localCheckpoint()
        results.createOrReplaceTempView("run_results")
        self._write_results()
        self._gone += [r.path for r in spark.sql(
            "select path from tasks where path not in (select path from run_results)").collect()]
        if hash_only:
            spark.sql("select path from run_results where content_hash is not null").localCheckpoint() \
                .createOrReplaceTempView("hashed")

    def _write_results(self) -> None:
        spark, run = self.spark, self.run_id
        # one pass over the results for the counts, and to skip the writes that have no rows
        # (a file hashed by this run's read step and measured after it counts as read once)
        stats = spark.sql(f"""
            select count(case when r.content_hash is not null and h.path is null then 1 end) as files_read,
                   count(case when r.decoded then 1 end) as images_decoded,
                   count(case when size(r.errors) > 0 then 1 end) as files_failed,
                   coalesce(sum(size(r.errors)), 0) as errors,
                   {", ".join(f"count(r.m_{f.name}) as rows_{f.name}" for f in self.families)}
              from run_results r left join hashed h on h.path = r.path""").first().asDict()
        for family in self.families:
            if stats[f"rows_{family.name}"]:
                rows = spark.sql(f"""select content_hash, cast({int(family.version)} as int) as metric_version,
                                            cast({run} as bigint) as computed_run, m_{family.name}.*
                                       from run_results where m_{family.name} is not null""")
                tables.append_family_rows(spark, family, rows)
        if stats["errors"]:
            spark.sql("""select path, content_hash, e.stage, e.family, e.family_version, e.error_kind, e.message
                           from (select path, content_hash, explode(errors) as e from run_results)""") \
                .createOrReplaceTempView("run_errors")
            tables.append_errors(spark, run, "run_errors")
        spark.sql("""select r.path, t.source_root, r.content_hash, r.size_bytes, r.mtime_ns
                       from run_results r join tasks t on t.path = r.path
                      where r.content_hash is not null""").createOrReplaceTempView("observed")
        added, changed, new_content = tables.record_observed(spark, run, "observed")
        c = self.counts
        c.paths_added, c.paths_changed, c.content_new = c.paths_added + added, c.paths_changed + changed, \
            c.content_new + new_content
        c.files_read += stats["files_read"]
        c.images_decoded += stats["images_decoded"]
        c.files_failed += stats["files_failed"]

    def _record_unread(self, rows) -> None:
        """Files above measuring.MAX_FILE_BYTES are not read, as on DuckDB: an error row each."""
        self.spark.createDataFrame(
            [(r.path, None, "read", None, None, "file_too_large",
              f"the file holds {r.size_bytes:,} bytes, above the limit of {MAX_FILE_BYTES:,}; not read")
             for r in rows],
            "path string, content_hash string, stage string, family string, family_version int, "
            "error_kind string, message string").createOrReplaceTempView("unread_errors")
        tables.append_errors(self.spark, self.run_id, "unread_errors")
        self.counts.files_failed += len(rows)


# --- what runs on the executors ------------------------------------------------------

_ARROW_TYPES = {"double": "float64", "bigint": "int64", "integer": "int32", "varchar": "string", "boolean": "bool_"}
_PYTHON_TYPES = {"double": float, "bigint": int, "integer": int, "varchar": str, "boolean": bool}


def _result_schema(layout: Sequence[tuple[str, dict]]) -> str:
    """One row per file: what measuring.FileResult holds, a struct column per family."""
    families = ", ".join(
        f"m_{name} struct<" + ",".join(f"{c}:{tables.SPARK_TYPES[t]}" for c, t in columns.items()) + ">"
        for name, columns in layout)
    return ("path string, content_hash string, size_bytes bigint, mtime_ns bigint, decoded boolean, "
            "errors array<struct<stage:string,error_kind:string,message:string,family:string,family_version:int>>, "
            + families)


def _arrow_schema(layout):
    import pyarrow as pa

    error = pa.struct([("stage", pa.string()), ("error_kind", pa.string()), ("message", pa.string()),
                       ("family", pa.string()), ("family_version", pa.int32())])
    fields = [("path", pa.string()), ("content_hash", pa.string()), ("size_bytes", pa.int64()),
              ("mtime_ns", pa.int64()), ("decoded", pa.bool_()), ("errors", pa.list_(error))]
    for name, columns in layout:
        fields.append((f"m_{name}", pa.struct([(c, getattr(pa, _ARROW_TYPES[t])()) for c, t in columns.items()])))
    return pa.schema(fields)


def _measure_batches(batches, layout, pool: bool):
    """mapInArrow's function: FileTasks from binaryFile rows, measured in a one-process measuring pool.

    Without ``pool`` (tasks that only hash, which decode nothing) they run here.
    No content counts as known (measuring.is_known): the plan already chose what to measure.
    """
    import numpy as np
    import pyarrow as pa

    from ..measuring import FileTask, measure_file
    from ..parallel import MeasuringPool

    schema = _arrow_schema(layout)

    def tasks():
        for batch in batches:
            for row in batch.to_pylist():
                yield FileTask(row["path"], families=tuple(row["families"]) if row["families"] is not None else None,
                               expected_hash=row["expected_hash"], hash_only=row["hash_only"],
                               data=row["content"], mtime_ns=row["mtime_ns"])

    out = []
    with MeasuringPool(1, np.zeros(0, dtype=np.uint64)) as measuring_pool:
        results = measuring_pool.run(tasks()) if pool else map(measure_file, tasks())
        for result in results:
            out.append(_result_row(result, layout))
            if len(out) >= RESULT_ROWS_PER_BATCH:
                yield pa.RecordBatch.from_pylist(out, schema=schema)
                out = []
    if out:
        yield pa.RecordBatch.from_pylist(out, schema=schema)


def _result_row(result, layout) -> dict:
    row = {"path": result.path, "content_hash": result.content_hash, "size_bytes": result.size_bytes,
           "mtime_ns": result.mtime_ns, "decoded": result.decoded,
           "errors": [{"stage": e.stage, "error_kind": e.error_kind, "message": e.message, "family": e.family,
                       "family_version": e.family_version} for e in result.errors]}
    for name, columns in layout:
        values = result.rows.get(name)
        row[f"m_{name}"] = None if values is None else {
            c: None if values.get(c) is None else _PYTHON_TYPES[t](values[c]) for c, t in columns.items()}
    return row


def _glob_escape(path: str) -> str:
    """Hadoop reads a path as a glob: its special characters are escaped with a backslash."""
    return "".join("\\" + ch if ch in "\\*?[]{}" else ch for ch in path)
