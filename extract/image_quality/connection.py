"""Opening the DuckDB warehouse: where it is, waiting for another writer, and saying who holds it.

DuckDB allows one writing process per file, and a read-only connection
(an analyst's query, a notebook, a report) blocks a writer too. ``connect``
waits a bounded time for the file, then raises one error whose message names
what holds it.
"""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # imported lazily at run time so `--help` stays fast
    import duckdb

DEFAULT_DB = "warehouse.duckdb"
DB_ENV_VAR = "IMAGE_QUALITY_DB"
DEFAULT_LOCK_TIMEOUT_S = 60.0


class WarehouseLockedError(RuntimeError):
    """Another process holds the DuckDB write lock for longer than we wait."""


class WarehouseOpenError(RuntimeError):
    """The database file cannot be opened or created."""


def resolve_db_path(cli_value: str | None) -> str:
    """--db wins, then $IMAGE_QUALITY_DB, then warehouse.duckdb in the working directory."""
    return cli_value or os.environ.get(DB_ENV_VAR) or DEFAULT_DB


def _is_lock_conflict(exc: Exception) -> bool:
    text = str(exc)
    return "lock" in text.lower() and ("Conflicting" in text or "Could not set lock" in text)


def connect(db_path: str, *, lock_timeout_s: float = DEFAULT_LOCK_TIMEOUT_S,
            read_only: bool = False) -> "duckdb.DuckDBPyConnection":
    """Open the warehouse, waiting up to ``lock_timeout_s`` for another writer to finish."""
    import duckdb

    parent = os.path.dirname(os.path.abspath(db_path))
    if not os.path.isdir(parent):
        raise WarehouseOpenError(f"cannot open database {db_path}: folder {parent} does not exist")
    if read_only and not os.path.exists(db_path):
        raise WarehouseOpenError(f"no database at {db_path}: run `image-quality extract` first")
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.05
    while True:
        try:
            return duckdb.connect(db_path, read_only=read_only)
        except duckdb.IOException as exc:
            if not _is_lock_conflict(exc):
                raise WarehouseOpenError(f"cannot open database {db_path}: {_first_line(exc)}") from exc
            if time.monotonic() >= deadline:
                readers = _read_only_holders(db_path)
                if readers:
                    raise WarehouseLockedError(
                        f"database {db_path} is open read-only in another process ({readers}) and stayed "
                        f"so for {lock_timeout_s:g} s; an extract cannot write while a read-only "
                        f"connection is open: close it (a query, a notebook, a report) and try again"
                    ) from exc
                raise WarehouseLockedError(
                    f"database {db_path} is in use by another process (an extract or dbt run) "
                    f"and stayed locked for {lock_timeout_s:g} s; try again when it has finished"
                ) from exc
            time.sleep(delay)
            delay = min(delay * 2, 1.0)


def _read_only_holders(db_path: str) -> str | None:
    """"PID n: command, ..." when only read locks are held on the file (Linux's /proc/locks), else None.

    DuckDB holds a read lock for a read-only connection and a write lock for a
    writer; its error names one process either way, not which kind it holds.
    """
    try:
        st = os.stat(db_path)
        with open("/proc/locks") as locks:
            lines = locks.read().splitlines()
    except OSError:
        return None
    inode = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    kinds, pids = set(), []
    for line in lines:
        fields = line.split()
        if inode in fields and len(fields) > 5:
            kinds.add(fields[3] if fields[1] != "->" else fields[4])
            pids.append(fields[4] if fields[1] != "->" else fields[5])
    if kinds != {"READ"}:
        return None
    return ", ".join(f"PID {pid}: {_command_of(pid)}" for pid in dict.fromkeys(pids))


def _command_of(pid: str) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return " ".join(part.decode(errors="replace") for part in f.read().split(b"\0") if part)[:120]
    except OSError:
        return "unknown command"


def _first_line(exc: BaseException) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
