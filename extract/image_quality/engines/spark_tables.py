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

from ..plan import check_identifier
from ..warehouse import RunCounts

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

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
    spark.sql(select_sql).localCheckpoint().createOrReplaceTempView("partition_rewrite")
    spark.sql(f"insert overwrite table {SCHEMA}.{table} partition ({partition}) select * from partition_rewrite")


def _write_run(spark: "SparkSession", select_sql: str) -> None:
    _overwrite_partitions(spark, "load_runs", "run_id", select_sql)


def fail_dead_runs(spark: "SparkSession") -> list[int]:
    """Mark runs left 'running' by a process that died as failed (no other process holds the metastore)."""
    dead = [r.run_id for r in spark.sql(f"select run_id from {SCHEMA}.load_runs where status = 'running'").collect()]
    if dead:
        _write_run(spark, f"""
            select started_at, coalesce(finished_at, current_timestamp()), 'failed', sources, tool_version,
                   {', '.join(LOAD_RUN_COUNTS)},
                   'interrupted: the process ended before the run finished', run_id
              from {SCHEMA}.load_runs where status = 'running'""")
    return sorted(dead)


def start_run(spark: "SparkSession", sources: Sequence[str], tool_version: str) -> int:
    (run_id,) = spark.sql(f"select coalesce(max(run_id), 0) + 1 from {SCHEMA}.load_runs").first()
    spark.createDataFrame([(list(sources), tool_version)], "sources array<string>, tool_version string") \
        .createOrReplaceTempView("new_run")
    _write_run(spark, f"""
        select current_timestamp(), cast(null as timestamp), 'running', sources, tool_version,
               {', '.join('cast(null as bigint)' for _ in LOAD_RUN_COUNTS)}, cast(null as string),
               cast({int(run_id)} as bigint)
          from new_run""")
    return int(run_id)


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


def append_family_rows(spark: "SparkSession", family: "MetricFamily", rows: "DataFrame") -> None:
    """Append ``rows`` (content_hash, metric_version, computed_run, the family's columns)."""
    columns = ", ".join(check_identifier(c) for c in family.columns)
    rows.createOrReplaceTempView("family_rows")
    spark.sql(f"""insert into {SCHEMA}.{check_identifier(family.table)}
                  select content_hash, metric_version, computed_run, current_timestamp(), {columns}
                    from family_rows""")


def append_errors(spark: "SparkSession", run_id: int, errors_view: str) -> None:
    """Append the rows of view ``errors_view`` (path, content_hash, stage, family, family_version, error_kind, message)."""
    spark.sql(f"""insert into {SCHEMA}.extract_errors partition (run_id = {int(run_id)})
                  select path, content_hash, stage, family, family_version, error_kind, message,
                         current_timestamp()
                    from {errors_view}""")


def record_observed(spark: "SparkSession", run_id: int, observed_view: str) -> tuple[int, int, int]:
    """Record what the files of view ``observed_view`` hold: new intervals, closed ones, the stat cache.

    ``observed_view``: (path, source_root, content_hash, size_bytes, mtime_ns) of
    every file read and hashed. Returns (paths_added, paths_changed, content_new).
    """
    run = int(run_id)
    spark.sql(f"""
        select o.path, o.source_root, o.content_hash, o.size_bytes, o.mtime_ns,
               f.content_hash is not null as had_content
          from {observed_view} o
          left join {SCHEMA}.files f on f.path = o.path and f.valid_to_run is null
         where f.content_hash is null or f.content_hash <> o.content_hash""") \
        .localCheckpoint().createOrReplaceTempView("observed_delta")
    added, changed = spark.sql("""
        select count(case when not had_content then 1 end), count(case when had_content then 1 end)
          from observed_delta""").first()
    (new_content,) = spark.sql(f"""
        select count(distinct d.content_hash) from observed_delta d
          left anti join {SCHEMA}.files f on f.content_hash = d.content_hash""").first()
    if added + changed:
        _rewrite_files_for(spark, run)
    # raw.stat_cache: the index moves each path read to this run's partition
    _overwrite_partitions(spark, "stat_cache", "checked_run", f"""
        select c.path, c.content_hash, c.size_bytes, c.mtime_ns, c.etag, c.checked_run
          from {SCHEMA}.stat_cache c
         where c.checked_run in (select checked_run from {SCHEMA}.stat_cache
                                  where path in (select path from {observed_view}) union select {run})
           and c.path not in (select path from {observed_view})
        union all
        select path, content_hash, size_bytes, mtime_ns, cast(null as string), cast({run} as bigint)
          from {observed_view}""")
    return int(added), int(changed), int(new_content)


def _rewrite_files_for(spark: "SparkSession", run: int) -> None:
    """raw.files: rewrite the partitions holding an interval that observed_delta closes, and add this run's."""
    spark.sql(f"""
        select distinct f.valid_from_run from {SCHEMA}.files f
          join observed_delta d on d.path = f.path and d.had_content
         where f.valid_to_run is null
        union select {run}""").localCheckpoint().createOrReplaceTempView("files_touched")
    _overwrite_partitions(spark, "files", "valid_from_run", f"""
        select f.path, f.source_root, f.content_hash, f.size_bytes, f.mtime_ns,
               case when f.valid_to_run is null and d.path is not null then {run} else f.valid_to_run end,
               f.etag, f.version_id, f.valid_from_run
          from {SCHEMA}.files f
          left join (select path from observed_delta where had_content) d on d.path = f.path
         where f.valid_from_run in (select valid_from_run from files_touched)
        union all
        select path, source_root, content_hash, size_bytes, mtime_ns, cast(null as bigint),
               cast(null as string), cast(null as string), cast({run} as bigint)
          from observed_delta""")


def close_removed_paths(spark: "SparkSession", run_id: int, roots: Sequence[str], present_view: str) -> int:
    """Close the interval of every path under ``roots`` not in view ``present_view`` (path)."""
    run = int(run_id)
    spark.createDataFrame([(r if r.endswith("/") else r + "/",) for r in roots], "root string") \
        .createOrReplaceTempView("scan_roots")
    spark.sql(f"""
        select distinct f.path, f.valid_from_run from {SCHEMA}.files f
          join scan_roots r on left(f.path, length(r.root)) = r.root
         where f.valid_to_run is null
           and f.path not in (select path from {present_view})""") \
        .localCheckpoint().createOrReplaceTempView("removed_paths")
    removed = spark.sql("select count(*) from removed_paths").first()[0]
    if removed:
        _overwrite_partitions(spark, "files", "valid_from_run", f"""
            select f.path, f.source_root, f.content_hash, f.size_bytes, f.mtime_ns,
                   case when f.valid_to_run is null and r.path is not null then {run} else f.valid_to_run end,
                   f.etag, f.version_id, f.valid_from_run
              from {SCHEMA}.files f
              left join removed_paths r on r.path = f.path and r.valid_from_run = f.valid_from_run
             where f.valid_from_run in (select valid_from_run from removed_paths)""")
    return int(removed)


def spark_types(columns: Mapping[str, str]) -> str:
    return ", ".join(f"{name} {SPARK_TYPES[t]}" for name, t in columns.items())
