"""The Spark layer: every statement the Spark engine runs against schema ``raw``.

The same tables as the DuckDB warehouse (warehouse.py), with the same names,
columns, keys and meaning, as Parquet tables in database ``raw`` of the Spark
catalog. Parquet files are written once and never updated, so the two tables
that the DuckDB loader updates in place are partitioned, and a change rewrites
the partitions it touches (dynamic partition overwrite, which writes the new
partition beside the old one and then swaps it in):

* ``raw.load_runs`` by ``run_id``: a run's row is rewritten as it starts and ends;
* ``raw.files`` by ``valid_from_run``: closing an interval rewrites the
  partition of the run that opened it;
* ``raw.stat_cache`` by ``checked_run``: a path read again moves to this run's partition.

Everything else (metric rows, errors, family versions) is only appended.
Partition columns come last in a Spark table; the dbt models name columns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Mapping, Sequence

from ..plan import CONTENT_ERROR_STAGES, check_identifier
from ..warehouse import RunCounts

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

    from ..metrics.base import MetricFamily

SCHEMA = "raw"

# A family's portable column types (metrics.base.SQL_TYPES) as Spark SQL types.
SPARK_TYPES = {"double": "double", "bigint": "bigint", "integer": "int", "varchar": "string", "boolean": "boolean"}

CORE_TABLES = {
    "load_runs": ("""run_id bigint, started_at timestamp, finished_at timestamp, status string,
                     sources array<string>, tool_version string, files_scanned bigint, files_unchanged bigint,
                     paths_added bigint, paths_changed bigint, paths_removed bigint, content_new bigint,
                     files_failed bigint, files_read bigint, images_decoded bigint, message string""",
                  "run_id"),
    # etag and version_id are an object's (DuckDB's s3:// sources); null for the files Spark reads
    "files": ("""path string, source_root string, content_hash string, size_bytes bigint, mtime_ns bigint,
                 valid_from_run bigint, valid_to_run bigint, etag string, version_id string""", "valid_from_run"),
    "stat_cache": ("path string, content_hash string, size_bytes bigint, mtime_ns bigint, etag string, "
                   "checked_run bigint", "checked_run"),
    "extract_errors": ("""run_id bigint, path string, content_hash string, stage string, family string,
                          family_version int, error_kind string, message string, recorded_at timestamp""",
                       "run_id"),
    "metric_families": ("family string, version int, table_name string, columns array<string>, first_run bigint",
                        None),
}

LOAD_RUN_COUNTS = ("files_scanned", "files_unchanged", "paths_added", "paths_changed", "paths_removed",
                   "content_new", "files_failed", "files_read", "images_decoded")


def family_columns(family: "MetricFamily") -> str:
    return ", ".join(f"{check_identifier(name)} {SPARK_TYPES[sql_type]}" for name, sql_type in family.columns.items())


def ensure_schema(spark: "SparkSession", families: Sequence["MetricFamily"]) -> None:
    """Create database raw and every table, if absent."""
    spark.sql(f"create database if not exists {SCHEMA}")
    present = {r.tableName for r in spark.sql(f"show tables in {SCHEMA}").collect()}
    for table, (columns, partition) in CORE_TABLES.items():
        if table not in present:
            partitioned = f" partitioned by ({partition})" if partition else ""
            spark.sql(f"create table {SCHEMA}.{table} ({columns}) using parquet{partitioned}")
    for family in families:
        if family.table not in present:
            spark.sql(f"""create table {SCHEMA}.{check_identifier(family.table)} (
                              content_hash string, metric_version int, computed_run bigint, computed_at timestamp,
                              {family_columns(family)}) using parquet""")


# --- load runs -------------------------------------------------------------------


def _overwrite_partitions(spark: "SparkSession", table: str, partition: str, select_sql: str) -> None:
    """Replace the partitions of ``table`` that ``select_sql`` yields rows for (columns in table order).

    The rows are computed and held first (a local checkpoint), so the write
    never reads the files it replaces; partitions the rows do not name stay.
    """
    view = f"rewrite_{table}"  # one view per table: the writes of a run may run side by side
    spark.sql(select_sql).localCheckpoint().createOrReplaceTempView(view)
    spark.sql(f"insert overwrite table {SCHEMA}.{table} partition ({partition}) select * from {view}")


def _write_run(spark: "SparkSession", select_sql: str) -> None:
    _overwrite_partitions(spark, "load_runs", "run_id", select_sql)


def begin_run(spark: "SparkSession", sources: Sequence[str], tool_version: str) -> tuple[int, list[int]]:
    """Start a run: (its run_id, the runs marked failed). One query and one write of raw.load_runs.

    Runs left 'running' by a process that died are marked failed in the same
    write (no other process holds the metastore, so none of them is alive).
    """
    row = spark.sql(f"""select coalesce(max(run_id), 0) + 1 as run_id,
                               collect_list(case when status = 'running' then run_id end) as dead
                          from {SCHEMA}.load_runs""").first()
    run_id, dead = int(row.run_id), sorted(int(r) for r in row.dead)
    spark.createDataFrame([(list(sources), tool_version)], "sources array<string>, tool_version string") \
        .createOrReplaceTempView("new_run")
    _write_run(spark, f"""
        select started_at, coalesce(finished_at, current_timestamp()), 'failed', sources, tool_version,
               {', '.join(LOAD_RUN_COUNTS)},
               'interrupted: the process ended before the run finished', run_id
          from {SCHEMA}.load_runs where status = 'running'
        union all
        select current_timestamp(), cast(null as timestamp), 'running', sources, tool_version,
               {', '.join('cast(null as bigint)' for _ in LOAD_RUN_COUNTS)}, cast(null as string),
               cast({run_id} as bigint)
          from new_run""")
    return run_id, dead


def finish_run(spark: "SparkSession", run_id: int, status: str, counts: RunCounts,
               message: str | None = None) -> None:
    spark.createDataFrame([(status, message, *(getattr(counts, c) for c in LOAD_RUN_COUNTS))],
                          "status string, message string, " + ", ".join(f"{c} bigint" for c in LOAD_RUN_COUNTS)) \
        .createOrReplaceTempView("run_end")
    _write_run(spark, f"""
        select s.started_at, current_timestamp(), e.status, s.sources, s.tool_version,
               {', '.join('e.' + c for c in LOAD_RUN_COUNTS)}, e.message, s.run_id
          from {SCHEMA}.load_runs s cross join run_end e
         where s.run_id = {int(run_id)}""")


def register_families(spark: "SparkSession", families: Sequence["MetricFamily"], run_id: int) -> None:
    """Record each family version the first time a run uses it."""
    known = {(r.family, r.version) for r in spark.sql(f"select family, version from {SCHEMA}.metric_families").collect()}
    new = [(f.name, f.version, f.table, list(f.columns), run_id) for f in families if (f.name, f.version) not in known]
    if new:
        spark.createDataFrame(new, CORE_TABLES["metric_families"][0]).write.insertInto(f"{SCHEMA}.metric_families")


# --- results ---------------------------------------------------------------------


def content_state(spark: "SparkSession", families: Sequence["MetricFamily"]) -> None:
    """View ``content_state``: (content_hash, missing families, complete) of every content the warehouse knows.

    plan.py's rules in one scan of the family tables: a family is done for a
    content when its table has a row at the current version or an error was
    recorded for that version; content whose bytes failed to decode or crashed
    a worker is complete. (plan.py writes the same rules as one anti-join per
    family, which costs Spark a job each.)
    """
    done = " union all ".join(
        f"""select content_hash, '{check_identifier(f.name)}' as family
              from {SCHEMA}.{check_identifier(f.table)} where metric_version = {int(f.version)}"""
        for f in families)
    versions = " or ".join(f"(family = '{check_identifier(f.name)}' and family_version = {int(f.version)})"
                           for f in families) or "false"
    stages = ", ".join(f"'{stage}'" for stage in CONTENT_ERROR_STAGES)
    every = ", ".join(f"'{check_identifier(f.name)}'" for f in families)
    spark.sql(f"""
        with done as (
            {done}
            union all
            select content_hash, family from {SCHEMA}.extract_errors
             where content_hash is not null and stage = 'metric' and ({versions})
            union all
            select content_hash, '*failed*' from {SCHEMA}.extract_errors
             where content_hash is not null and stage in ({stages})
        )
        select content_hash,
               array_sort(array_except(array({every}), collect_set(family))) as missing,
               array_contains(collect_set(family), '*failed*')
               or size(array_except(array({every}), collect_set(family))) = 0 as complete
          from done group by content_hash""").localCheckpoint().createOrReplaceTempView("content_state")


def stale_content_sql(unchanged_view: str, discovered_view: str) -> str:
    """(path, source_root, families, content_hash): content an unchanged path holds that lacks a family.

    One path per content (the smallest), as plan.stale_plan_sql; needs view content_state.
    """
    return f"""
        select p.path, d.source_root, s.missing as families, p.content_hash
          from (select content_hash, min(path) as path from {unchanged_view} group by content_hash) p
          join content_state s on s.content_hash = p.content_hash
          join {discovered_view} d on d.path = p.path
         where not s.complete"""


def known_hash_prefixes(spark: "SparkSession"):
    """Sorted uint64 prefixes of the content that needs no computing (warehouse.known_hash_prefixes on Spark).

    Eight bytes per complete content, read as two 32-bit halves (Spark has no
    unsigned 64-bit type); a prefix collision costs a content that is measured
    on the next run instead of this one, never a wrong row. Needs view content_state.
    """
    import numpy as np

    table = spark.sql("""
        select cast(conv(substr(content_hash, 1, 8), 16, 10) as bigint) as high,
               cast(conv(substr(content_hash, 9, 8), 16, 10) as bigint) as low
          from content_state where complete""").toArrow()
    high = table.column("high").to_numpy().astype(np.uint64)
    low = table.column("low").to_numpy().astype(np.uint64)
    return np.sort((high << np.uint64(32)) | low)


def append_family_rows(spark: "SparkSession", family: "MetricFamily", run_id: int, results_view: str) -> None:
    """Append the family's rows of ``results_view``: one per content hash, none that the table already holds.

    Identical bytes measured in two tasks of one run give two equal rows; one is kept.
    """
    table = f"{SCHEMA}.{check_identifier(family.table)}"
    name = check_identifier(family.name)
    columns = ", ".join(f"r.{check_identifier(c)}" for c in family.columns)
    spark.sql(f"""
        insert into {table}
        select r.content_hash, {int(family.version)}, {int(run_id)}, current_timestamp(), {columns}
          from (select content_hash, m_{name}.*,
                       row_number() over (partition by content_hash order by path) as copy
                  from {results_view} where m_{name} is not null) r
          left anti join (select content_hash from {table} where metric_version = {int(family.version)}) t
            on t.content_hash = r.content_hash
         where r.copy = 1""")


def append_errors(spark: "SparkSession", run_id: int, errors_view: str) -> None:
    """Append the rows of view ``errors_view`` (path, content_hash, stage, family, family_version, error_kind, message)."""
    spark.sql(f"""insert into {SCHEMA}.extract_errors partition (run_id = {int(run_id)})
                  select path, content_hash, stage, family, family_version, error_kind, message,
                         current_timestamp()
                    from {errors_view}""")


def plan_history(spark: "SparkSession", run_id: int, roots: Sequence[str], observed_view: str,
                 discovered_view: str, gone_view: str, listing_view: str) -> None:
    """Views ``observed_delta`` and ``removed_paths``: what the run changes in raw.files (nothing written yet).

    ``observed_delta``: (path, source_root, content_hash, size_bytes, mtime_ns,
    had_content) of each path whose content is new or differs from its open
    interval. ``removed_paths``: open intervals under ``roots`` whose path was not
    found (or was gone when read), except under a folder the walk could not list:
    a folder the run could not see is not evidence that its files were removed.
    """
    spark.sql(f"""
        select o.path, o.source_root, o.content_hash, o.size_bytes, o.mtime_ns,
               f.content_hash is not null as had_content
          from {observed_view} o
          left join {SCHEMA}.files f on f.path = o.path and f.valid_to_run is null
         where f.content_hash is null or f.content_hash <> o.content_hash""") \
        .localCheckpoint().createOrReplaceTempView("observed_delta")
    spark.createDataFrame([(r if r.endswith("/") else r + "/",) for r in roots], "root string") \
        .createOrReplaceTempView("scan_roots")
    spark.sql(f"""
        select distinct f.path, f.valid_from_run from {SCHEMA}.files f
          join scan_roots r on left(f.path, length(r.root)) = r.root
          left anti join (select concat(path, '/') as root from {listing_view}
                           where problem_kind = 'unreadable_folder') b on left(f.path, length(b.root)) = b.root
          left anti join (select path from {discovered_view} d left anti join {gone_view} g on g.path = d.path) p
            on p.path = f.path
         where f.valid_to_run is null""").localCheckpoint().createOrReplaceTempView("removed_paths")


def rewrite_history(spark: "SparkSession", run_id: int) -> None:
    """raw.files in one write: close the intervals of observed_delta and removed_paths, add this run's.

    Rewrites the partitions (runs) that opened a closed interval, and this run's.
    """
    run = int(run_id)
    spark.sql("""select path from observed_delta where had_content
                 union select path from removed_paths""").createOrReplaceTempView("closing")
    _overwrite_partitions(spark, "files", "valid_from_run", f"""
        select f.path, f.source_root, f.content_hash, f.size_bytes, f.mtime_ns,
               case when f.valid_to_run is null and c.path is not null then {run} else f.valid_to_run end,
               f.etag, f.version_id, f.valid_from_run
          from {SCHEMA}.files f
          left join closing c on c.path = f.path
         where f.valid_from_run in (select f2.valid_from_run from {SCHEMA}.files f2
                                      join closing c2 on c2.path = f2.path where f2.valid_to_run is null)
        union all
        select path, source_root, content_hash, size_bytes, mtime_ns, cast(null as bigint),
               cast(null as string), cast(null as string), cast({run} as bigint)
          from observed_delta""")


def rewrite_stat_cache(spark: "SparkSession", run_id: int, observed_view: str) -> None:
    """raw.stat_cache in one write: each path read moves to this run's partition (an index, not history)."""
    run = int(run_id)
    _overwrite_partitions(spark, "stat_cache", "checked_run", f"""
        select c.path, c.content_hash, c.size_bytes, c.mtime_ns, c.etag, c.checked_run
          from {SCHEMA}.stat_cache c
          left anti join {observed_view} o on o.path = c.path
         where c.checked_run in (select s.checked_run from {SCHEMA}.stat_cache s
                                   join {observed_view} o2 on o2.path = s.path)
        union all
        select path, content_hash, size_bytes, mtime_ns, cast(null as string), cast({run} as bigint)
          from {observed_view}""")


def spark_types(columns: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {SPARK_TYPES[t]}" for name, t in columns.items())
