"""The work one worker process does for one file: read once, hash, decode once, measure.

Content addressing: the key of everything computed from a file is the SHA-256
of its bytes, as 64 lower-case hex digits (``content_hash``). SHA-256 is what
``sha256sum`` prints, so anyone can check a row against a file; the CPUs we run
on hash it in hardware (about 2 GB/s), well below the cost of a decode.

Nothing here touches the database: a task names a file and what to compute,
the result carries rows and errors back to the loader.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from . import sources
from .decoding import ImageError, decode
from .metrics import all_families, families_by_name
from .sources import MAX_FILE_BYTES, ReadError  # noqa: F401  (MAX_FILE_BYTES: the limit, named here too)

# Sorted uint64 prefixes of content hashes that need no computing, set once per
# worker by the pool initializer (see warehouse.known_hash_prefixes).
_known_prefixes: np.ndarray = np.zeros(0, dtype=np.uint64)
# In a worker: where the C decoders' own messages go while a file decodes, and the real stderr.
_library_log = None
_stderr_fd: int | None = None


def init_worker(known_prefixes: np.ndarray, reader_state: dict | None = None) -> None:
    """Pool initializer: one OpenCV thread per process (the pool is the parallelism).

    OpenCV's own log lines are silenced: every file it cannot read becomes a row
    in ``raw.extract_errors``, so they would only repeat it on the terminal. So
    are libpng's and libjpeg's warnings ("libpng warning: iCCP: ...", "Corrupt
    JPEG data: ..."), which those libraries write straight to file descriptor 2:
    while a file decodes, that descriptor points at a scratch file, emptied after.
    """
    import cv2

    global _known_prefixes, _library_log, _stderr_fd
    if _library_log is None:
        _library_log = tempfile.TemporaryFile()
        _stderr_fd = os.dup(2)
    cv2.setNumThreads(1)
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    _known_prefixes = known_prefixes
    sources.init_reader(reader_state)


@dataclass(frozen=True)
class FileTask:
    """One file to read.

    ``families``: names of the families to compute, or None for every family
    unless the content turns out to be known already. ``expected_hash``: the
    content the path is believed to hold (for recomputing a family on known
    content); if the bytes differ, the file is treated as new content.
    ``hash_only``: read and hash, decode nothing (a file that may duplicate
    another file of this run; the loader decodes each distinct content once).
    ``data`` and ``mtime_ns``: the file's bytes and modification time when
    another reader already holds them (the Spark engine's ``binaryFile`` rows);
    the file is then not opened.
    """

    path: str
    families: tuple[str, ...] | None = None
    expected_hash: str | None = None
    hash_only: bool = False
    data: bytes | None = None
    mtime_ns: int | None = None


@dataclass
class FileError:
    stage: str              # read | decode | metric | worker
    error_kind: str
    message: str
    family: str | None = None
    family_version: int | None = None


@dataclass
class FileResult:
    path: str
    content_hash: str | None = None
    size_bytes: int | None = None
    mtime_ns: int | None = None
    etag: str | None = None          # objects only: the change marker read with the bytes
    version_id: str | None = None    # objects in a versioned bucket
    decoded: bool = False
    rows: dict[str, dict] = field(default_factory=dict)   # family name -> column values
    errors: list[FileError] = field(default_factory=list)


def content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_known(hash_hex: str) -> bool:
    prefix = np.uint64(int(hash_hex[:16], 16))
    i = int(np.searchsorted(_known_prefixes, prefix))
    return i < len(_known_prefixes) and _known_prefixes[i] == prefix


def measure_file(task: FileTask) -> FileResult:
    """Read, hash and measure one file. Never raises: every failure becomes a FileError."""
    result = FileResult(task.path)
    try:
        _measure_file(task, result)
    except Exception as exc:  # hostile input must never stop a run; the kind says it is unexpected
        kind = "out_of_memory" if isinstance(exc, MemoryError) else "unexpected_error"
        stage = "read" if result.content_hash is None else "decode"
        result.errors.append(FileError(stage, kind, f"{type(exc).__name__}: {exc}"[:2000]))
    return result


def _measure_file(task: FileTask, result: FileResult) -> None:
    if task.data is not None:  # bytes another reader already holds (Spark's binaryFile source)
        data = task.data
        result.size_bytes, result.mtime_ns = len(data), task.mtime_ns
    else:
        try:
            data, st = sources.read(task.path)
        except ReadError as exc:
            result.errors.append(FileError("read", exc.kind, str(exc)))
            return
        except OSError as exc:
            result.errors.append(FileError("read", _os_error_kind(exc), exc.strerror or str(exc)))
            return
        set_stat(result, st)
    result.content_hash = content_hash(data)
    if task.hash_only:
        return
    if task.expected_hash is not None and result.content_hash == task.expected_hash:
        wanted = [families_by_name()[name] for name in task.families or ()]
    elif is_known(result.content_hash):
        return
    else:
        wanted = list(all_families())
    if wanted:
        measure_bytes(data, wanted, result)


def set_stat(result: FileResult, st: "sources.ObjectStat") -> None:
    result.size_bytes, result.mtime_ns = st.size_bytes, st.mtime_ns
    result.etag, result.version_id = st.etag, st.version_id


def measure_bytes(data: bytes, families, result: FileResult) -> None:
    """Decode ``data`` once and compute each family into ``result``."""
    try:
        with _library_messages_dropped():
            image = decode(data)
    except ImageError as exc:
        result.errors.append(FileError("decode", exc.kind, str(exc)))
        return
    except MemoryError:
        result.errors.append(FileError("decode", "out_of_memory", "not enough memory to decode the image"))
        return
    result.decoded = True
    for family in families:
        try:
            values = family.calculate(image)
        except Exception as exc:  # one family failing must not lose the others
            result.errors.append(FileError(
                "metric", "metric_failed", f"{type(exc).__name__}: {exc}", family.name, family.version))
            continue
        try:
            result.rows[family.name] = typed_row(family, values)
        except ValueError as exc:  # a value its column cannot hold must not fail the batch it is written in
            result.errors.append(FileError("metric", "value_out_of_range", str(exc), family.name, family.version))


# The range each integer SQL type holds: a value outside it would fail the whole batch's insert.
_INTEGER_RANGES = {"integer": (-2**31, 2**31 - 1), "bigint": (-2**63, 2**63 - 1)}


def typed_row(family, values: dict) -> dict:
    """``values`` as the Python types of the family's declared columns, every one checked to fit.

    Raises ValueError naming the first column whose value its SQL type cannot hold
    (an integer out of range, a string that is not valid UTF-8, a wrong type).
    """
    row = {}
    for column, sql_type in family.columns.items():
        value = values.get(column)
        if value is not None:
            value = _typed(value, sql_type, f"{family.name}.{column}")
        row[column] = value
    return row


def _typed(value, sql_type: str, name: str):
    try:
        if sql_type in _INTEGER_RANGES:
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                raise TypeError
            low, high = _INTEGER_RANGES[sql_type]
            if not low <= int(value) <= high:
                raise ValueError(f"{name} = {int(value)} does not fit its column's type {sql_type} "
                                 f"({low:,} to {high:,})")
            return int(value)
        if sql_type == "double":
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
                raise TypeError
            return float(value)
        if sql_type == "boolean":
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError
            return bool(value)
        if sql_type == "varchar":
            if not isinstance(value, str):
                raise TypeError
            value.encode("utf-8")  # a lone surrogate cannot be stored
            return value
    except (TypeError, UnicodeEncodeError):
        raise ValueError(f"{name} = {value!r:.80} is not a {sql_type}") from None
    raise ValueError(f"{name}: unknown column type {sql_type}")


@contextmanager
def _library_messages_dropped():
    """In a worker, what C libraries write to stderr meanwhile is dropped (see init_worker)."""
    if _library_log is None:
        yield
        return
    sys.stderr.flush()
    os.dup2(_library_log.fileno(), 2)
    try:
        yield
    finally:
        os.dup2(_stderr_fd, 2)
        _library_log.seek(0)
        _library_log.truncate()


def measure_chunk(tasks: list[FileTask]) -> list[FileResult]:
    """What a pool worker runs: several files per round trip, to spread the IPC cost."""
    return [measure_file(task) for task in tasks]


def _os_error_kind(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "vanished"
    if isinstance(exc, PermissionError):
        return "permission_denied"
    if isinstance(exc, IsADirectoryError):
        return "not_a_file"
    return "read_failed"
