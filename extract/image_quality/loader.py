"""One load run: walk the sources, read only what changed, measure only new content.

A run goes through four steps, each committed in its own transactions:

1. **discover**: walk the sources (folders and ``s3://`` prefixes alike, see
   ``sources``) into a temporary table and compare it with the stat cache
   (path, size, mtime_ns, and an object's ETag): a file whose stat and open history
   interval agree with the cache is unchanged and is not read (``--verify``
   reads and hashes everything).
2. **read**: every other file is read once and hashed; if its content is not
   known yet, the same bytes are decoded once and every metric family computed.
   Files whose size another file of the batch shares may be copies of one
   another: they are only hashed here, so identical bytes are decoded once.
3. **complete**: any content a present path holds that still lacks a family at
   its current version (a version bump, a copy hashed in step 2, a run that
   died) is read from one of its paths and that family alone computed.
4. **close**: paths under the sources that were not found are closed in the
   history (never deleted), and the run is marked succeeded.

Results are written in batches, one transaction each: a run killed at any
instant leaves whole batches only, and the next run starts where it stopped
(the dead run is marked failed when the next one starts).
"""

from __future__ import annotations

import dataclasses
import os
import time
from dataclasses import dataclass, field
from typing import Iterable, Iterator

from . import __version__, warehouse
from .sources import FoundFile, Walk, check_sources, walk_sources
from .measuring import FileError, FileResult, FileTask
from .metrics import all_families, families_by_name

# A file the walk found but that was gone, or no longer a regular file, when
# read: the run closes its path as removed.
_GONE_KINDS = frozenset({"vanished", "not_a_file"})
DISCOVERY_BATCH = 10_000   # files per insert into the discovered table
WRITE_BATCH_FILES = 500    # results per committed batch ...
WRITE_BATCH_SECONDS = 5.0  # ... or per this many seconds, whichever comes first


@dataclass
class RunSummary:
    run_id: int
    db_path: str
    counts: warehouse.RunCounts
    seconds: float
    failed_runs_marked: list[int] = field(default_factory=list)

    def lines(self) -> list[str]:
        c = self.counts
        return [
            f"run {self.run_id} succeeded in {self.seconds:.1f} s -> {self.db_path}",
            f"  files scanned {c.files_scanned}, unchanged {c.files_unchanged}, read {c.files_read}, "
            f"decoded {c.images_decoded}",
            f"  paths added {c.paths_added}, changed {c.paths_changed}, removed {c.paths_removed}; "
            f"new content {c.content_new}; failed {c.files_failed}"
            + (" (see raw.extract_errors)" if c.files_failed else ""),
        ]


def default_workers() -> int:
    return os.cpu_count() or 1


class NoProgress:
    """The progress interface the loader reports to (see progress.FileProgress)."""

    def add_total(self, n: int) -> None: ...
    def update(self, n: int = 1) -> None: ...


def extract(sources: list[str], *, db_path: str, workers: int | None = None, verify: bool = False,
            lock_timeout_s: float = warehouse.DEFAULT_LOCK_TIMEOUT_S,
            batch_files: int = WRITE_BATCH_FILES, progress=None,
            file_time_limit_s: float | None = None) -> RunSummary:
    """Run one load run; raises SourceError / warehouse errors when it cannot start.

    ``file_time_limit_s``: wall seconds one file may take to measure (default
    ``parallel.DEFAULT_FILE_TIME_LIMIT_S``); a file still measuring then is
    stopped and recorded as ``time_limit``.
    """
    started = time.monotonic()
    roots = check_sources(sources)
    from .parallel import start_worker_server

    start_worker_server()
    families = all_families()
    con = warehouse.connect(db_path, lock_timeout_s=lock_timeout_s)
    try:
        warehouse.ensure_schema(con, families)
        dead = warehouse.fail_dead_runs(con)
        run_id = warehouse.start_run(con, roots, __version__)
        run = _LoadRun(con, run_id, families, workers or default_workers(), batch_files,
                       progress or NoProgress(), file_time_limit_s)
        try:
            run.execute(roots, verify)
        except Exception as exc:
            _mark_failed(con, run_id, exc)
            raise RunFailedError(f"run {run_id} failed: {_first_line(exc)}; the batches it committed "
                                 f"are kept and the next run resumes") from exc
        except BaseException as exc:
            _mark_failed(con, run_id, exc)
            raise
        return RunSummary(run_id, db_path, run.counts, time.monotonic() - started, dead)
    finally:
        con.close()


class RunFailedError(RuntimeError):
    """A run that started could not finish (the database failed: disk full, I/O); it is marked failed."""


def _mark_failed(con, run_id: int, exc: BaseException) -> None:
    warehouse.rollback_quietly(con)
    try:
        reason = "interrupted" if isinstance(exc, KeyboardInterrupt) else f"{type(exc).__name__}: {exc}"
        warehouse.finish_run(con, run_id, "failed", reason[:2000])
    except Exception:
        pass  # the next run marks it failed


class _LoadRun:
    def __init__(self, con, run_id, families, workers, batch_files, progress, file_time_limit_s=None):
        from .parallel import DEFAULT_FILE_TIME_LIMIT_S

        self.file_time_limit_s = file_time_limit_s or DEFAULT_FILE_TIME_LIMIT_S
        self.con = con
        self.run_id = run_id
        self.families = families
        self.workers = workers
        self.batch_files = batch_files
        self.progress = progress
        self.counts = warehouse.RunCounts()
        self._pending: list[FileResult] = []
        self._source_root: dict[str, str] = {}
        self._vanished: list[str] = []   # found by the walk, gone (or no longer a file) when read
        self._last_flush = time.monotonic()

    # -- the four steps --------------------------------------------------------------

    def execute(self, roots: list[str], verify: bool) -> None:
        warehouse.register_families(self.con, self.families, self.run_id)
        walk = self._discover(roots)
        self._read_changed(verify)
        self._complete_content()
        warehouse.forget_discovered(self.con, self._vanished)
        self.con.execute("begin")
        removed = warehouse.close_removed_paths(
            self.con, self.run_id, roots, walk.unreadable_folders,
            [p.path for p in walk.problems if p.kind == "unreadable_file"])
        self.counts.paths_removed = removed.paths_removed
        self.counts.paths_added -= removed.added_withdrawn
        self.counts.paths_changed -= removed.changed_withdrawn
        warehouse.update_run_counts(self.con, self.run_id, self.counts)
        warehouse.finish_run(self.con, self.run_id, "succeeded")
        self.con.execute("commit")

    def _discover(self, roots: list[str]) -> Walk:
        walk = Walk()
        warehouse.create_discovered(self.con)
        for batch in _batched(walk_sources(roots, walk), DISCOVERY_BATCH):
            warehouse.append_discovered(self.con, _discovered_batch(batch))
        if walk.problems:
            warehouse.record_errors_now(
                self.con, self.run_id, ((p.path, "discover", p.kind, p.message) for p in walk.problems))
            self.counts.files_failed += sum(p.kind != "unreadable_folder" for p in walk.problems)
        self.counts.files_scanned = warehouse.count_discovered(self.con)
        return walk

    def _read_changed(self, verify: bool) -> None:
        to_read = warehouse.count_paths_to_read(self.con, verify)
        self.counts.files_unchanged = self.counts.files_scanned - to_read
        if not to_read:
            return
        self.progress.add_total(to_read)
        self._run_tasks(self._read_tasks(verify))

    def _read_tasks(self, verify: bool) -> Iterator[FileTask]:
        for rows in warehouse.iter_paths_to_read(self.con, verify):
            for path, source_root, _size, _mtime, _cached_hash, size_shared in rows:
                self._source_root[path] = source_root
                yield FileTask(path, hash_only=bool(size_shared))

    def _complete_content(self) -> None:
        """Measure content that lacks a family, through any readable path that holds it.

        Each hash is read through one path first; if that read fails or finds other
        bytes (the file unreadable, gone or changed since it was hashed), the next
        path holding the hash is tried, until one gives the bytes or none is left.
        """
        tasks = []
        for rows in warehouse.iter_stale_content(self.con, self.families):
            for content_hash, path, source_root, family_names in rows:
                self._source_root[path] = source_root
                tasks.append(FileTask(path, families=tuple(family_names), expected_hash=content_hash))
        tried: dict[str, set[str]] = {}
        while tasks:
            wanted = {t.path: t for t in tasks}
            for t in tasks:
                tried.setdefault(t.expected_hash, set()).add(t.path)
            missed: dict[str, FileTask] = {}

            def note(result: FileResult) -> None:
                task = wanted.get(result.path)
                if task is not None and result.content_hash != task.expected_hash:
                    missed[task.expected_hash] = task

            self.progress.add_total(len(tasks))
            self._run_tasks(tasks, note)
            tasks = []
            for content_hash, path, source_root in warehouse.other_paths_holding(
                    self.con, {h: tried[h] for h in missed}):
                self._source_root[path] = source_root
                tasks.append(FileTask(path, families=missed[content_hash].families, expected_hash=content_hash))

    # -- running and writing ------------------------------------------------------------

    def _run_tasks(self, tasks: Iterable[FileTask], note=None) -> None:
        from .parallel import MeasuringPool

        prefixes = warehouse.known_hash_prefixes(self.con, self.families)
        with MeasuringPool(self.workers, prefixes, self.file_time_limit_s) as pool:
            for result in pool.run(tasks):
                if note is not None:
                    note(result)
                self._pending.append(result)
                self.progress.update(1)
                if (len(self._pending) >= self.batch_files
                        or time.monotonic() - self._last_flush >= WRITE_BATCH_SECONDS):
                    self._flush()
        self._flush()

    def _flush(self) -> None:
        results, self._pending = self._pending, []
        self._last_flush = time.monotonic()
        if results:
            self._write(results)

    def _write(self, results: list[FileResult]) -> None:
        """Commit ``results`` in one transaction; a row the database refuses costs its own file only.

        A batch refused for its data (a value out of range, a key conflict) is
        written again file by file, and a file that still cannot be written is
        recorded as a ``write_failed`` error row instead. Errors of the database
        itself (disk full, I/O) are not about one file and stop the run.
        """
        import duckdb

        saved = dataclasses.replace(self.counts)
        try:
            self._write_batch(results)
        except _row_errors() as exc:
            self.counts = saved
            if len(results) > 1:
                for result in results:
                    self._write([result])
                return
            failed = results[0]
            self._write_batch([FileResult(
                failed.path, content_hash=failed.content_hash, errors=[FileError(
                    "write", "write_failed",
                    f"the database refused this file's rows: {type(exc).__name__}: {_first_line(exc)}")])])
        except duckdb.Error:
            self.counts = saved
            raise
        for r in results:
            self._source_root.pop(r.path, None)

    def _write_batch(self, results: list[FileResult]) -> None:
        by_name = families_by_name()
        family_rows = {family: warehouse.Batch({**_FAMILY_KEY_COLUMNS, **family.columns})
                       for family in self.families}
        observed = warehouse.Batch(_OBSERVED_COLUMNS)
        errors = warehouse.Batch(_ERROR_COLUMNS)
        vanished = []
        for r in results:
            self.counts.files_read += r.content_hash is not None
            self.counts.images_decoded += r.decoded
            if r.content_hash is not None and not any(e.stage == "write" for e in r.errors):
                observed.append({"path": r.path, "source_root": self._source_root[r.path],
                                 "content_hash": r.content_hash, "size_bytes": r.size_bytes,
                                 "mtime_ns": r.mtime_ns, "etag": r.etag, "version_id": r.version_id})
            for name, values in r.rows.items():
                family_rows[by_name[name]].append(
                    {"content_hash": r.content_hash, "metric_version": by_name[name].version,
                     "computed_run": self.run_id, **values})
            if r.errors:
                self.counts.files_failed += 1
            if any(e.stage == "read" and e.error_kind in _GONE_KINDS for e in r.errors):
                vanished.append(r.path)
            for e in r.errors:
                errors.append({"path": r.path, "content_hash": r.content_hash, "stage": e.stage,
                               "family": e.family, "family_version": e.family_version,
                               "error_kind": e.error_kind, "message": e.message})
        warehouse.write_batch(self.con, run_id=self.run_id, family_rows=family_rows,
                              observed=observed, errors=errors, counts=self.counts)
        self._vanished.extend(vanished)


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:1000]


def _row_errors() -> tuple:
    import duckdb

    return (duckdb.ConversionException, duckdb.ConstraintException, duckdb.InvalidInputException,
            duckdb.OutOfRangeException, duckdb.TypeMismatchException)


def _batched(items: Iterable, n: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def _discovered_batch(found: list[FoundFile]) -> "warehouse.Batch":
    types = warehouse.DISCOVERED_COLUMNS
    return warehouse.Batch.of({
        "path": (types["path"], [f.path for f in found]),
        "source_root": (types["source_root"], [f.source_root for f in found]),
        "size_bytes": (types["size_bytes"], [f.size_bytes for f in found]),
        "mtime_ns": (types["mtime_ns"], [f.mtime_ns for f in found]),
        "etag": (types["etag"], [f.etag for f in found]),
    })


# The columns of each kind of row a batch writes, with their SQL types.
_FAMILY_KEY_COLUMNS = {"content_hash": "varchar", "metric_version": "integer", "computed_run": "bigint"}
_OBSERVED_COLUMNS = {"path": "varchar", "source_root": "varchar", "content_hash": "varchar",
                     "size_bytes": "bigint", "mtime_ns": "bigint", "etag": "varchar", "version_id": "varchar"}
_ERROR_COLUMNS = {"path": "varchar", "content_hash": "varchar", "stage": "varchar", "family": "varchar",
                  "family_version": "integer", "error_kind": "varchar", "message": "varchar"}
