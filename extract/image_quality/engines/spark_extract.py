"""``image-quality extract SOURCE... --engine spark``: one load run as a few Spark jobs.

The run takes the DuckDB loader's steps (loader.py) with the same plan
(plan.py) and the same measuring code (measuring.py), in one pass over the
files, planned and run on the executors; the driver sees counts only:

1. **walk**: one task walks the sources with the loader's own walk
   (engines/spark_tasks.py), so names, sizes, nanosecond mtimes and the
   walk's problems are the DuckDB engine's. The listing stays on the
   executors (a local checkpoint).
2. **plan**: Spark SQL joins the listing with the stat cache and the history
   (plan.py): the files to read (changed or new), and the content that
   unchanged paths hold but that lacks a family at its current version.
3. **read and measure**: those rows (paths, not bytes) are spread over about
   four tasks per core; each task reads, hashes and measures its files in the
   same pass, through a one-process measuring pool (a crash costs one file).
   Content already complete is recognised after hashing and not measured
   (the complete hashes' prefixes go to the executors as a broadcast). Files
   sharing a size go to one task, and a task decodes identical bytes once.
4. **write**: one write per table (raw.files and raw.stat_cache rewrite the
   partitions they touch), and the run's counters from one aggregation.

Identical new bytes of different sizes cannot exist, so each new content is
decoded once per run; content held by a new path and by a stale unchanged path
may be measured twice, in two tasks: the write keeps one row per content hash
and family version (docs/SPARK.md).
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import __version__, plan
from ..loader import RunSummary
from ..measuring import MAX_FILE_BYTES
from ..metrics import all_families
from ..sources.local import check_sources
from ..warehouse import RunCounts
from . import spark_tables as tables
from . import spark_tasks
from .spark_session import SparkUnavailable, resolve_warehouse, start_session

SCHEMA = tables.SCHEMA

# Settings (docs/SPARK.md, "Settings"): tasks per core of the measuring stage, and files per Arrow batch.
TASKS_PER_CORE_ENV_VAR = "IMAGE_QUALITY_SPARK_TASKS_PER_CORE"
BATCH_FILES_ENV_VAR = "IMAGE_QUALITY_SPARK_BATCH_FILES"
DEFAULT_TASKS_PER_CORE = 4
DEFAULT_BATCH_FILES = 32

WRITERS = 4  # tables written at once at the end of a run

# A file that was listed but was gone, or no longer a file, when read: its path is closed as removed.
_GONE_KINDS = ("vanished", "not_a_file")


def tasks_per_core() -> int:
    return max(1, int(os.environ.get(TASKS_PER_CORE_ENV_VAR) or DEFAULT_TASKS_PER_CORE))


def batch_files() -> int:
    return max(1, int(os.environ.get(BATCH_FILES_ENV_VAR) or DEFAULT_BATCH_FILES))


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
    spark = start_session(master, warehouse_path, batch_files())
    session_seconds = time.monotonic() - started
    try:
        try:
            tables.ensure_schema(spark, families)
        except Exception as exc:  # the metastore could not be opened
            raise SparkUnavailable(_metastore_problem(warehouse_path, exc)) from None
        run_id, dead = tables.begin_run(spark, roots, __version__)
        run = SparkRun(spark, run_id, families, roots)
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


def _metastore_problem(warehouse, exc: Exception) -> str:
    text = str(exc)
    if "Derby" in text or "metastore" in text.lower() or "HiveException" in text:
        return (f"the Spark warehouse {warehouse} is in use by another Spark process (its embedded "
                f"Derby metastore admits one); try again when it has finished")
    return f"cannot open the Spark warehouse {warehouse}: {text.strip().splitlines()[0][:300]}"


class SparkRun:
    """One load run's Spark jobs. Views it leaves: listing, discovered, to_measure, run_results."""

    def __init__(self, spark, run_id: int, families, roots: list[str]):
        self.spark = spark
        self.run_id = run_id
        self.families = families
        self.roots = roots
        self.counts = RunCounts()

    def execute(self, verify: bool) -> None:
        tables.register_families(self.spark, self.families, self.run_id)
        self.discover()
        self.plan(verify)
        self.measure()
        self.write()

    # -- 1. walk ---------------------------------------------------------------------------

    def discover(self) -> None:
        """Views ``listing`` (files and problems, on the executors) and ``discovered``."""
        spark = self.spark
        roots = spark.createDataFrame([(list(self.roots),)], "roots array<string>").coalesce(1)
        roots.mapInArrow(spark_tasks.walk_batches, spark_tasks.LISTING_SCHEMA) \
            .localCheckpoint().createOrReplaceTempView("listing")
        spark.sql("""select path, source_root, size_bytes, mtime_ns, cast(null as string) as etag
                       from listing where problem_kind is null""").createOrReplaceTempView("discovered")

    # -- 2. plan ---------------------------------------------------------------------------

    def plan(self, verify: bool) -> None:
        """View ``to_measure``: the files to read (changed, new) and the stale content, one row per path."""
        spark = self.spark
        spark.sql(f"with {plan.unchanged_cte(SCHEMA)} select * from unchanged").localCheckpoint() \
            .createOrReplaceTempView("unchanged_files")
        tables.content_state(spark, self.families)
        verify_sql = "true" if verify else "false"
        spark.sql(f"""
            with to_read as (
                select d.path, d.source_root, d.size_bytes from discovered d
                 where {verify_sql} or not exists (select 1 from unchanged_files u where u.path = d.path)
            )
            select path, source_root, size_bytes, cast(null as array<string>) as families,
                   cast(null as string) as expected_hash,
                   count(*) over (partition by size_bytes) > 1 as size_shared
              from to_read
            union all
            select s.path, s.source_root, d.size_bytes, s.families, s.content_hash, false
              from ({tables.stale_content_sql("unchanged_files", "discovered")}) s
              join discovered d on d.path = s.path""") \
            .localCheckpoint().createOrReplaceTempView("to_measure")

    # -- 3. read and measure ---------------------------------------------------------------

    def measure(self) -> None:
        """View ``run_results``: one row per file read (measuring.FileResult), kept on the executors."""
        from pyspark.sql import functions as F

        spark = self.spark
        layout = [(f.name, dict(f.columns)) for f in self.families]
        versions = {f.name: int(f.version) for f in self.families}
        tasks = spark.sql(f"select * from to_measure where size_bytes <= {MAX_FILE_BYTES}")
        if tasks.isEmpty():
            spark.createDataFrame([], spark_tasks.result_schema(layout, tables.SPARK_TYPES)) \
                .createOrReplaceTempView("run_results")
            return
        # copies share a size: files that share one go to one task, which decodes their bytes once
        key = F.when(F.col("size_shared"), F.col("size_bytes").cast("string")).otherwise(F.col("path"))
        partitions = max(1, spark.sparkContext.defaultParallelism * tasks_per_core())
        known = spark.sparkContext.broadcast(tables.known_hash_prefixes(spark))
        rows_per_batch = batch_files()
        results = tasks.repartition(partitions, key).select("path", "source_root", "families", "expected_hash") \
            .mapInArrow(lambda batches: spark_tasks.measure_batches(batches, layout, versions, known,
                                                                    rows_per_batch=rows_per_batch),
                        spark_tasks.result_schema(layout, tables.SPARK_TYPES))
        results.localCheckpoint().createOrReplaceTempView("run_results")

    # -- 4. write --------------------------------------------------------------------------

    def write(self) -> None:
        spark, run = self.spark, self.run_id
        gone = ", ".join(f"'{k}'" for k in _GONE_KINDS)
        # what each path holds now (one row per path), and the paths that turned out gone
        spark.sql(f"""
            select path, first(source_root) as source_root, first(content_hash) as content_hash,
                   first(size_bytes) as size_bytes, first(mtime_ns) as mtime_ns
              from run_results where content_hash is not null group by path""") \
            .createOrReplaceTempView("observed")
        spark.sql(f"""select path from run_results
                       where exists(errors, e -> e.stage = 'read' and e.error_kind in ({gone}))""") \
            .createOrReplaceTempView("gone")
        tables.plan_history(spark, run, self.roots, "observed", "discovered", "gone", "listing")
        stats = self._counters()
        c = self.counts
        c.files_scanned, c.files_unchanged = stats["files_scanned"], stats["files_scanned"] - stats["to_read"]
        c.files_read, c.images_decoded = stats["files_read"], stats["images_decoded"]
        c.files_failed = stats["files_failed"]
        c.paths_added, c.paths_changed = stats["paths_added"], stats["paths_changed"]
        c.content_new, c.paths_removed = stats["content_new"], stats["paths_removed"]
        writes = [lambda family=family: tables.append_family_rows(spark, family, run, "run_results")
                  for family in self.families if stats[f"rows_{family.name}"]]
        if stats["errors"]:
            self._error_rows()
            writes.append(lambda: tables.append_errors(spark, run, "run_errors"))
        if stats["paths_added"] + stats["paths_changed"] + stats["paths_removed"]:
            writes.append(lambda: tables.rewrite_history(spark, run))
        if stats["files_read"]:
            writes.append(lambda: tables.rewrite_stat_cache(spark, run, "observed"))
        # one write per table, side by side (each is a small job and a metastore round trip); any order is
        # safe: what a killed run did not write, the next run finds missing and writes (docs/SPARK.md)
        with ThreadPoolExecutor(WRITERS) as pool:
            for done in [pool.submit(write) for write in writes]:
                done.result()
        tables.finish_run(spark, run, "succeeded", self.counts)

    def _counters(self) -> dict:
        """Every counter of the run, and the row counts that say which writes are needed: one query."""
        families = ", ".join(f"count(distinct case when m_{f.name} is not null then content_hash end) "
                             f"as rows_{f.name}" for f in self.families)
        row = self.spark.sql(f"""
            select * from
              (select count(case when problem_kind is null then 1 end) as files_scanned,
                      count(problem_kind) as walk_problems,
                      count(case when problem_kind <> 'unreadable_folder' then 1 end) as walk_failures
                 from listing)
              cross join
              (select count(case when expected_hash is null then 1 end) as to_read,
                      count(case when size_bytes > {MAX_FILE_BYTES} then 1 end) as too_large
                 from to_measure)
              cross join
              (select count(distinct case when content_hash is not null then path end) as files_read,
                      count(distinct case when decoded then content_hash end) as images_decoded,
                      count(case when size(errors) > 0 then 1 end) as results_failed,
                      {families}
                 from run_results)
              cross join
              (select count(case when not had_content then 1 end) as paths_added,
                      count(case when had_content then 1 end) as paths_changed,
                      count(distinct case when f.content_hash is null then d.content_hash end) as content_new
                 from observed_delta d
                 left join (select distinct content_hash from {SCHEMA}.files) f on f.content_hash = d.content_hash)
              cross join
              (select count(*) as paths_removed from removed_paths)""").first().asDict()
        row["files_failed"] = row["results_failed"] + row["too_large"] + row["walk_failures"]
        row["errors"] = row["results_failed"] + row["too_large"] + row["walk_problems"]
        return row

    def _error_rows(self) -> None:
        """View ``run_errors``: the walk's problems, the files too large to read, and every file's errors."""
        self.spark.sql(f"""
            select path, cast(null as string) as content_hash, 'discover' as stage, cast(null as string) as family,
                   cast(null as int) as family_version, problem_kind as error_kind, problem_message as message
              from listing where problem_kind is not null
            union all
            select path, null, 'read', null, null, 'file_too_large',
                   concat('the file holds ', format_number(size_bytes, 0), ' bytes, above the limit of ',
                          '{MAX_FILE_BYTES:,}; not read')
              from to_measure where size_bytes > {MAX_FILE_BYTES}
            union all
            select path, content_hash, e.stage, e.family, e.family_version, e.error_kind, e.message
              from (select path, content_hash, explode(errors) as e from run_results)""") \
            .createOrReplaceTempView("run_errors")

