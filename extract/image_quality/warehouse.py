"""The DuckDB layer: every SQL statement the loader runs lives in this module.

The loader owns schema ``raw``. Nothing in ``raw`` is ever deleted: load runs,
path history intervals, metric rows (one per content hash and family version)
and extract errors are appended; a path's interval is closed, never removed
(except one the same run opened and found gone: see ``close_removed_paths``).
Opening the file, and waiting for another writer, is ``connection``'s job.
The only table updated in place is ``raw.stat_cache``, which is an index (as
git's index is) and not history.

Every value reaches SQL as a bound parameter: rows in bulk as one list
parameter per column (see :class:`Batch`), so no file name or user string is
ever formatted into a statement.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterable, Iterator, Mapping, Sequence

from . import plan
from .connection import (DB_ENV_VAR, DEFAULT_DB, DEFAULT_LOCK_TIMEOUT_S,  # noqa: F401  (the warehouse's face)
                         WarehouseLockedError, WarehouseOpenError, connect, resolve_db_path)
from .plan import CONTENT_ERROR_STAGES  # noqa: F401  (where it was defined before plan.py)
from .plan import check_identifier as _check_identifier

if TYPE_CHECKING:  # imported lazily at run time so `--help` stays fast
    import duckdb

    from .metrics.base import MetricFamily

SCHEMA = "raw"

CORE_DDL = f"""
create schema if not exists {SCHEMA};

create table if not exists {SCHEMA}.load_runs (
    run_id           bigint primary key,
    started_at       timestamptz not null,
    finished_at      timestamptz,
    status           varchar not null,   -- running | succeeded | failed
    sources          varchar[] not null,
    tool_version     varchar not null,
    files_scanned    bigint,
    files_unchanged  bigint,
    paths_added      bigint,
    paths_changed    bigint,
    paths_removed    bigint,
    content_new      bigint,
    files_failed     bigint,
    files_read       bigint,
    images_decoded   bigint,
    message          varchar
);

create table if not exists {SCHEMA}.files (
    path            varchar not null,
    source_root     varchar not null,
    content_hash    varchar not null,
    size_bytes      bigint not null,
    mtime_ns        bigint not null,
    valid_from_run  bigint not null,
    valid_to_run    bigint,             -- null while the path still holds this content
    primary key (path, valid_from_run)
);

create table if not exists {SCHEMA}.stat_cache (
    path          varchar primary key,
    content_hash  varchar not null,
    size_bytes    bigint not null,
    mtime_ns      bigint not null,
    checked_run   bigint not null
);

create table if not exists {SCHEMA}.extract_errors (
    run_id          bigint not null,
    path            varchar not null,
    content_hash    varchar,
    stage           varchar not null,   -- discover | read | decode | metric | worker
    family          varchar,
    family_version  integer,
    error_kind      varchar not null,
    message         varchar not null,
    recorded_at     timestamptz not null
);

create table if not exists {SCHEMA}.metric_families (
    family        varchar not null,
    version       integer not null,
    table_name    varchar not null,
    columns       varchar[] not null,
    first_run     bigint not null,
    primary key (family, version)
);
"""

# Columns added after the first release, so warehouses made before them gain
# them too: an object's change marker (ETag) and the version it was read at.
CORE_COLUMNS_ADDED = f"""
alter table {SCHEMA}.files add column if not exists etag varchar;
alter table {SCHEMA}.files add column if not exists version_id varchar;
alter table {SCHEMA}.stat_cache add column if not exists etag varchar;
"""


def family_table_ddl(family: "MetricFamily") -> str:
    """DDL for one metric family's table, derived from the family's column declaration."""
    table = _check_identifier(family.table)
    cols = ",\n    ".join(
        f"{_check_identifier(name)} {sql_type}" for name, sql_type in family.columns.items()
    )
    return f"""
create table if not exists {SCHEMA}.{table} (
    content_hash    varchar not null,
    metric_version  integer not null,
    computed_run    bigint not null,
    computed_at     timestamptz not null,
    {cols},
    primary key (content_hash, metric_version)
);"""


def ensure_schema(con: "duckdb.DuckDBPyConnection", families: Sequence["MetricFamily"]) -> None:
    """Create the raw schema and one table per metric family, if absent."""
    con.execute("begin")
    con.execute(CORE_DDL)
    con.execute(CORE_COLUMNS_ADDED)
    for family in families:
        con.execute(family_table_ddl(family))
    con.execute("commit")


# --- load runs -----------------------------------------------------------------


def fail_dead_runs(con: "duckdb.DuckDBPyConnection") -> list[int]:
    """Mark runs left 'running' by a process that died as failed.

    Called while we hold the write lock, so no live process can own them.
    """
    dead = [r[0] for r in con.execute(
        f"select run_id from {SCHEMA}.load_runs where status = 'running' order by run_id").fetchall()]
    if dead:
        con.execute(
            f"""update {SCHEMA}.load_runs
                   set status = 'failed', finished_at = coalesce(finished_at, now()),
                       message = 'interrupted: the process ended before the run finished'
                 where status = 'running'""")
    return dead


def start_run(con: "duckdb.DuckDBPyConnection", sources: Sequence[str], tool_version: str) -> int:
    con.execute("begin")
    (run_id,) = con.execute(
        f"select coalesce(max(run_id), 0) + 1 from {SCHEMA}.load_runs").fetchone()
    con.execute(
        f"""insert into {SCHEMA}.load_runs (run_id, started_at, status, sources, tool_version)
            values (?, now(), 'running', ?, ?)""",
        [run_id, list(sources), tool_version])
    con.execute("commit")
    return int(run_id)


@dataclass
class RunCounts:
    files_scanned: int = 0
    files_unchanged: int = 0
    paths_added: int = 0
    paths_changed: int = 0
    paths_removed: int = 0
    content_new: int = 0
    files_failed: int = 0
    files_read: int = 0
    images_decoded: int = 0


def update_run_counts(con: "duckdb.DuckDBPyConnection", run_id: int, counts: RunCounts) -> None:
    con.execute(
        f"""update {SCHEMA}.load_runs set files_scanned = ?, files_unchanged = ?, paths_added = ?,
               paths_changed = ?, paths_removed = ?, content_new = ?, files_failed = ?,
               files_read = ?, images_decoded = ?
             where run_id = ?""",
        [counts.files_scanned, counts.files_unchanged, counts.paths_added, counts.paths_changed,
         counts.paths_removed, counts.content_new, counts.files_failed, counts.files_read,
         counts.images_decoded, run_id])


def finish_run(con: "duckdb.DuckDBPyConnection", run_id: int, status: str,
               message: str | None = None) -> None:
    con.execute(
        f"update {SCHEMA}.load_runs set status = ?, finished_at = now(), message = ? where run_id = ?",
        [status, message, run_id])


def list_runs(con: "duckdb.DuckDBPyConnection", limit: int) -> list[tuple]:
    return con.execute(
        f"""select run_id, status, started_at, finished_at, files_scanned, files_unchanged,
                   paths_added, paths_changed, paths_removed, content_new, files_failed,
                   files_read, images_decoded, array_to_string(sources, ', ') as sources, tool_version, message
              from {SCHEMA}.load_runs order by run_id desc limit ?""", [limit]).fetchall()


def register_families(con: "duckdb.DuckDBPyConnection", families: Sequence["MetricFamily"],
                      run_id: int) -> None:
    """Record each family version the first time a run uses it."""
    for family in families:
        con.execute(
            f"""insert into {SCHEMA}.metric_families (family, version, table_name, columns, first_run)
                values (?, ?, ?, ?, ?) on conflict do nothing""",
            [family.name, family.version, family.table, list(family.columns), run_id])


# --- discovery against the stat cache -------------------------------------------


def create_discovered(con: "duckdb.DuckDBPyConnection") -> None:
    """A temporary table of what this run found on disk; lives as long as the connection."""
    con.execute("""create or replace temp table discovered (
                       path varchar primary key, source_root varchar not null,
                       size_bytes bigint not null, mtime_ns bigint not null, etag varchar)""")


DISCOVERED_COLUMNS = {"path": "varchar", "source_root": "varchar", "size_bytes": "bigint", "mtime_ns": "bigint",
                      "etag": "varchar"}


def append_discovered(con: "duckdb.DuckDBPyConnection", batch: "Batch") -> None:
    with _batch_table(con, "discovered_batch", batch):
        con.execute("insert or ignore into discovered select * from discovered_batch")


def forget_discovered(con: "duckdb.DuckDBPyConnection", paths: Sequence[str]) -> None:
    """Drop paths found by the walk that were gone when read: the run closes them as removed."""
    if not paths:
        return
    with _batch_table(con, "vanished_paths", Batch.of({"path": ("varchar", paths)})):
        con.execute("delete from discovered where path in (select path from vanished_paths)")


def count_discovered(con: "duckdb.DuckDBPyConnection") -> int:
    return con.execute("select count(*) from discovered").fetchone()[0]


# The plan's SQL (plan.py) is shared with the Spark engine; $verify is bound here.
_TO_READ_CTE = plan.to_read_cte(SCHEMA, "$verify")


def count_paths_to_read(con: "duckdb.DuckDBPyConnection", verify: bool) -> int:
    return con.execute(f"with {_TO_READ_CTE} select count(*) from to_read",
                       {"verify": verify}).fetchone()[0]


def iter_paths_to_read(con: "duckdb.DuckDBPyConnection", verify: bool,
                       page_rows: int = 4096) -> Iterator[list[tuple]]:
    """Discovered files whose stat differs from the stat cache (all of them with ``verify``).

    Yields pages of (path, source_root, size_bytes, mtime_ns, held_hash, size_shared):
    held_hash is the content the path holds in its open interval (None when new);
    size_shared says another file to read has the same size, so the two may be
    copies and must be hashed before either is decoded.
    """
    con.execute(
        f"create or replace temp table read_plan as {plan.read_plan_sql(SCHEMA, '$verify')}",
        {"verify": verify})
    yield from _pages(con, "read_plan", page_rows)


def _pages(con: "duckdb.DuckDBPyConnection", plan_table: str, page_rows: int) -> Iterator[list[tuple]]:
    """Page through a numbered plan with one short query per page.

    The loader writes between pages on the same connection, which would end an
    open result set; DuckDB cursors are other connections and cannot see temp tables.
    """
    start = 0
    while True:
        rows = con.execute(
            f"select * exclude (seq) from {plan_table} where seq > ? and seq <= ? order by seq",
            [start, start + page_rows]).fetchall()
        if not rows:
            con.execute(f"drop table if exists {plan_table}")
            return
        yield rows
        start += page_rows


def known_hash_prefixes(con: "duckdb.DuckDBPyConnection", families: Sequence["MetricFamily"]):
    """Sorted uint64 prefixes of every content hash that needs no computing.

    A hash needs no computing when each family has a row at its current version,
    or an error recorded for that version, or the bytes failed to decode. Workers
    use the prefixes to skip decoding known content after hashing it; the loader
    re-checks the full hash, so a prefix collision costs a re-read, never a wrong row.
    """
    import numpy as np

    sql = _complete_hashes_sql(families)
    prefixes = con.execute(
        f"""select ('0x' || left(content_hash, 16))::ubigint as prefix
              from ({sql}) order by prefix""").fetchnumpy()["prefix"]
    return np.ascontiguousarray(prefixes, dtype=np.uint64)


def _complete_hashes_sql(families: Sequence["MetricFamily"]) -> str:
    return plan.complete_hashes_sql(families, SCHEMA)


def is_content_complete(con: "duckdb.DuckDBPyConnection", families: Sequence["MetricFamily"],
                        hashes: Sequence[str]) -> set[str]:
    """Of ``hashes``, those that need no computing (see known_hash_prefixes)."""
    if not hashes:
        return set()
    with _batch_table(con, "candidate_hashes", Batch.of({"content_hash": ("varchar", hashes)})):
        rows = con.execute(
            f"""select c.content_hash from candidate_hashes c
                 where c.content_hash in ({_complete_hashes_sql(families)})""").fetchall()
    return {r[0] for r in rows}


def iter_stale_content(con: "duckdb.DuckDBPyConnection", families: Sequence["MetricFamily"],
                       page_rows: int = 4096) -> Iterator[list[tuple]]:
    """Content held by a present, unchanged path that lacks a family at its current version.

    Yields lists of (content_hash, path, source_root, family_names) with one
    readable path per hash: what a version bump, a copy hashed but not decoded,
    or a resumed run must compute.
    """
    if not families:
        return
    sql = plan.stale_plan_sql(families, SCHEMA, "list(m.family order by m.family)")
    con.execute(f"create or replace temp table stale_plan as {sql}")
    yield from _pages(con, "stale_plan", page_rows)


def other_paths_holding(con: "duckdb.DuckDBPyConnection",
                        tried: Mapping[str, Iterable[str]]) -> list[tuple[str, str, str]]:
    """For each content hash in ``tried``, one present, unchanged path holding it that is not among
    the paths already tried: (content_hash, path, source_root); hashes with none left are absent."""
    pairs = [(h, p) for h, paths_tried in tried.items() for p in paths_tried]
    if not pairs:
        return []
    with _batch_table(con, "tried_paths", Batch.of({"content_hash": ("varchar", [h for h, _ in pairs]),
                                                   "path": ("varchar", [p for _, p in pairs])})):
        return con.execute(
            f"""with {plan.unchanged_cte(SCHEMA)},
                next_path as (
                    select u.content_hash, min(u.path) as path
                      from unchanged u
                     where u.content_hash in (select content_hash from tried_paths)
                       and not exists (select 1 from tried_paths t
                                        where t.content_hash = u.content_hash and t.path = u.path)
                     group by u.content_hash)
                select n.content_hash, n.path, d.source_root
                  from next_path n join discovered d on d.path = n.path
                 order by n.path""").fetchall()


# --- batch writes ----------------------------------------------------------------


def write_batch(con: "duckdb.DuckDBPyConnection", *, run_id: int,
                family_rows: dict["MetricFamily", "Batch"],
                observed: "Batch", errors: "Batch", counts: RunCounts) -> tuple[int, int]:
    """Commit one batch of results in a single transaction.

    ``observed`` holds (path, source_root, content_hash, size_bytes, mtime_ns, etag,
    version_id) for every file read and hashed in the batch. Returns (paths_added, paths_changed).
    A crash before the commit leaves none of the batch; after it, all of it.
    """
    con.execute("begin")
    try:
        for family, rows in family_rows.items():
            if not len(rows):
                continue
            with _batch_table(con, "family_batch", rows):
                cols = ", ".join(_check_identifier(c) for c in rows.types)
                con.execute(
                    f"""insert into {SCHEMA}.{_check_identifier(family.table)} ({cols}, computed_at)
                        select {cols}, now() from family_batch on conflict do nothing""")
        added, changed, new_content = _record_observed(con, run_id, observed)
        if len(errors):
            with _batch_table(con, "error_batch", errors):
                con.execute(
                    f"""insert into {SCHEMA}.extract_errors
                        (run_id, path, content_hash, stage, family, family_version,
                         error_kind, message, recorded_at)
                        select ?, path, content_hash, stage, family, family_version,
                               error_kind, message, now()
                          from error_batch""", [run_id])
        counts.paths_added += added
        counts.paths_changed += changed
        counts.content_new += new_content
        update_run_counts(con, run_id, counts)
        con.execute("commit")
    except BaseException:
        rollback_quietly(con)
        raise
    return added, changed


def rollback_quietly(con: "duckdb.DuckDBPyConnection") -> None:
    """Roll back after a failure, keeping the failure's own exception the one that is raised.

    DuckDB may already have ended the transaction (an I/O error such as a full
    disk does); its "no transaction is active" must not replace the real cause.
    """
    try:
        con.execute("rollback")
    except Exception:
        pass


def _record_observed(con: "duckdb.DuckDBPyConnection", run_id: int, observed: "Batch") -> tuple[int, int, int]:
    if not len(observed):
        return 0, 0, 0
    with _batch_table(con, "observed_batch", observed):
        # Paths whose current content differs from what they held (or that are new).
        # opened_now: the open interval began in this very run (the file changed between two
        # reads of one run, e.g. hashed, then read again to measure): the later read replaces it.
        con.execute(
            f"""create or replace temp table observed_delta as
                select o.path, o.source_root, o.content_hash, o.size_bytes, o.mtime_ns,
                       o.etag, o.version_id, f.content_hash is not null as had_content,
                       coalesce(f.valid_from_run = ?, false) as opened_now
                  from observed_batch o
                  left join {SCHEMA}.files f on f.path = o.path and f.valid_to_run is null
                 where f.content_hash is null or f.content_hash <> o.content_hash""", [run_id])
        added, changed, new_content = con.execute(
            f"""select count(*) filter (where not had_content),
                       count(*) filter (where had_content and not opened_now),
                       count(distinct content_hash) filter (
                           where content_hash not in (select content_hash from {SCHEMA}.files))
                  from observed_delta""").fetchone()
        con.execute(
            f"""update {SCHEMA}.files f
                   set content_hash = d.content_hash, size_bytes = d.size_bytes, mtime_ns = d.mtime_ns,
                       etag = d.etag, version_id = d.version_id
                  from observed_delta d
                 where f.path = d.path and f.valid_to_run is null and d.opened_now""")
        con.execute(
            f"""update {SCHEMA}.files f set valid_to_run = ?
                  from observed_delta d
                 where f.path = d.path and f.valid_to_run is null and d.had_content
                   and not d.opened_now""", [run_id])
        con.execute(
            f"""insert into {SCHEMA}.files
                (path, source_root, content_hash, size_bytes, mtime_ns, etag, version_id,
                 valid_from_run, valid_to_run)
                select path, source_root, content_hash, size_bytes, mtime_ns, etag, version_id, ?, null
                  from observed_delta where not opened_now""", [run_id])
        con.execute(
            f"""insert or replace into {SCHEMA}.stat_cache
                (path, content_hash, size_bytes, mtime_ns, checked_run, etag)
                select path, content_hash, size_bytes, mtime_ns, ?, etag from observed_batch""", [run_id])
        con.execute("drop table observed_delta")
    return int(added), int(changed), int(new_content)


@dataclass
class Removed:
    """What closing the paths this run did not find did to the run's counts."""

    paths_removed: int = 0
    added_withdrawn: int = 0     # opened by this run, gone before it ended: no longer counted as added
    changed_withdrawn: int = 0   # ... a change of this run that ended as a removal


def close_removed_paths(con: "duckdb.DuckDBPyConnection", run_id: int, roots: Sequence[str],
                        unreadable_dirs: Sequence[str], unreadable_files: Sequence[str] = ()) -> Removed:
    """Close the interval of every path under ``roots`` that this run did not find.

    Paths under a folder the walk could not list, and files it found but could
    not stat, are left open: absence of evidence is not removal. An interval
    this same run opened (a file hashed, then gone when read again to measure)
    is withdrawn rather than closed: [N, N) would claim the path held it for no
    run at all. Runs in one transaction with the run's last counts.
    """
    with _batch_table(con, "scan_roots", Batch.of({"root": ("varchar", [_dir_prefix(r) for r in roots])})), \
            _batch_table(con, "blind_dirs", Batch.of({"root": ("varchar", [_dir_prefix(d) for d in unreadable_dirs])})), \
            _batch_table(con, "blind_files", Batch.of({"path": ("varchar", list(unreadable_files))})):
        con.execute(
            f"""create or replace temp table removed_paths as
                select f.path, f.valid_from_run = ? as opened_now,
                       exists (select 1 from {SCHEMA}.files g
                                where g.path = f.path and g.valid_to_run = ?) as closed_now
                  from {SCHEMA}.files f
                 where f.valid_to_run is null
                   and exists (select 1 from scan_roots r where starts_with(f.path, r.root))
                   and not exists (select 1 from blind_dirs b where starts_with(f.path, b.root))
                   and f.path not in (select path from blind_files)
                   and f.path not in (select path from discovered)""", [run_id, run_id])
        removed, added_withdrawn, changed_withdrawn = con.execute(
            """select count(*) filter (where not opened_now or closed_now),
                      count(*) filter (where opened_now and not closed_now),
                      count(*) filter (where opened_now and closed_now)
                 from removed_paths""").fetchone()
        con.execute(
            f"""update {SCHEMA}.files set valid_to_run = ?
                 where valid_to_run is null
                   and path in (select path from removed_paths where not opened_now)""", [run_id])
        con.execute(
            f"""delete from {SCHEMA}.files
                 where valid_to_run is null and valid_from_run = ?
                   and path in (select path from removed_paths where opened_now)""", [run_id])
        con.execute("drop table removed_paths")
    return Removed(int(removed or 0), int(added_withdrawn or 0), int(changed_withdrawn or 0))


def _dir_prefix(path: str) -> str:
    return path if path.endswith("/") else path + "/"


def record_errors_now(con: "duckdb.DuckDBPyConnection", run_id: int, rows: Iterable[tuple]) -> None:
    """Record errors found outside a batch (discovery): (path, stage, error_kind, message)."""
    for path, stage, kind, message in rows:
        con.execute(
            f"""insert into {SCHEMA}.extract_errors
                (run_id, path, content_hash, stage, family, family_version, error_kind, message, recorded_at)
                values (?, ?, null, ?, null, null, ?, ?, now())""", [run_id, path, stage, kind, message])


class Batch:
    """Rows to write, held column by column: name -> SQL type, name -> values.

    DuckDB receives each column as one list parameter and unnests them side by
    side (see ``_batch_table``): values are bound, never formatted into SQL,
    NULLs and NaNs stay what they are, and nothing but DuckDB is needed (an
    Arrow table would pull in pyarrow, which imports pandas, 0.5 s on every run).
    """

    def __init__(self, types: Mapping[str, str]):
        self.types = dict(types)
        self.values: dict[str, list] = {column: [] for column in self.types}

    @classmethod
    def of(cls, columns: Mapping[str, tuple[str, Iterable]]) -> "Batch":
        """A batch from whole columns: name -> (SQL type, values)."""
        batch = cls({column: sql_type for column, (sql_type, _) in columns.items()})
        for column, (_, values) in columns.items():
            batch.values[column] = list(values)
        return batch

    def append(self, row: Mapping[str, object]) -> None:
        """Add one row; a column the row does not name gets NULL."""
        for column, values in self.values.items():
            values.append(row.get(column))

    def __len__(self) -> int:
        return len(next(iter(self.values.values()), []))


@contextmanager
def _batch_table(con: "duckdb.DuckDBPyConnection", name: str, batch: Batch) -> Iterator[None]:
    """A temporary table ``name`` holding ``batch``, dropped on exit."""
    lengths = {len(values) for values in batch.values.values()}
    if len(lengths) > 1:
        raise ValueError(f"batch {name}: columns of different lengths {sorted(lengths)}")
    columns = ", ".join(f"unnest(?::{_check_identifier(sql_type)}[]) as {_check_identifier(column)}"
                        for column, sql_type in batch.types.items())
    con.execute(f"create or replace temp table {_check_identifier(name)} as select {columns}",
                list(batch.values.values()))
    try:
        yield
    except BaseException:
        try:  # in an aborted transaction the drop fails too: the error that aborted it is the one to raise
            con.execute(f"drop table if exists {_check_identifier(name)}")
        except Exception:
            pass
        raise
    con.execute(f"drop table if exists {_check_identifier(name)}")
