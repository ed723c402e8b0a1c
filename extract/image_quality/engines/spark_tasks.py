"""What the Spark engine runs on the executors: the walk, and reading, hashing and measuring files.

Both are ``mapInArrow`` functions: Arrow batches of small rows in (source
roots; paths to read), Arrow batches of small rows out (what was found; what
was measured). No image bytes ever pass through the JVM: a Python worker opens
each file itself, with the loader's own reader (``sources.read``), hashes it
and measures it in the same task, through the loader's own code
(``measuring.measure_file``). The driver never sees a row of either.

* **walk**: the loader's own walk (``sources.walk_sources``), so the listing
  is the DuckDB engine's, byte for byte: the same stored names (any bytes a
  name holds, ``:`` included), nanosecond mtimes, zero-byte files, hidden
  names skipped, FIFOs, link loops and unreadable folders reported.
* **measure**: every task runs its files through a one-process measuring pool
  (``parallel.MeasuringPool``), so a file that kills its decoder costs that
  file only, as on DuckDB. The pool's process reads the file itself (paths in,
  rows out) and keeps the hashes it measured: identical bytes in one task are
  decoded once (the driver places files that share a size in one task).
* **one file never fails its batch**: a value that does not fit its column (an
  integer out of range, a value of the wrong type) becomes an error row of
  that file, and so does any failure to turn one result into a row.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator, Sequence

# A family's portable column types (metrics.base.SQL_TYPES) in Arrow and Python.
_ARROW_TYPES = {"double": "float64", "bigint": "int64", "integer": "int32", "varchar": "string", "boolean": "bool_"}
_INTEGER_RANGES = {"integer": (-2**31, 2**31 - 1), "bigint": (-2**63, 2**63 - 1)}

LISTING_SCHEMA = ("seq bigint, path string, source_root string, size_bytes bigint, mtime_ns bigint, "
                  "problem_kind string, problem_message string")
LISTING_BATCH_ROWS = 10_000


# --- the walk -------------------------------------------------------------------------


def walk_batches(batches: Iterable, *, batch_rows: int = LISTING_BATCH_ROWS) -> Iterator:
    """mapInArrow: one row holding the stored roots in, the listing out (files, then the walk's problems)."""
    import pyarrow as pa

    from ..paths import to_os
    from ..sources import Walk, walk_sources

    schema = _listing_arrow_schema()
    for batch in batches:
        for row in batch.to_pylist():
            walk = Walk()
            out: list[dict] = []
            # a file given as a source may be found again in a source folder: its first sighting is kept,
            # as on DuckDB (a folder is never walked twice, so no other path can repeat)
            file_roots, sighted = {r for r in row["roots"] if not os.path.isdir(to_os(r))}, set()
            for seq, found in enumerate(walk_sources(list(row["roots"]), walk)):
                if found.path in file_roots:
                    if found.path in sighted:
                        continue
                    sighted.add(found.path)
                out.append({"seq": seq, "path": found.path, "source_root": found.source_root,
                            "size_bytes": found.size_bytes, "mtime_ns": found.mtime_ns})
                if len(out) >= batch_rows:
                    yield pa.RecordBatch.from_pylist(out, schema=schema)
                    out = []
            out += [{"seq": None, "path": p.path, "problem_kind": p.kind, "problem_message": p.message}
                    for p in walk.problems]
            if out:
                yield pa.RecordBatch.from_pylist(out, schema=schema)


def _listing_arrow_schema():
    import pyarrow as pa

    return pa.schema([("seq", pa.int64()), ("path", pa.string()), ("source_root", pa.string()),
                      ("size_bytes", pa.int64()), ("mtime_ns", pa.int64()), ("problem_kind", pa.string()),
                      ("problem_message", pa.string())])


# --- reading, hashing, measuring --------------------------------------------------------


def result_schema(layout: Sequence[tuple[str, dict]], spark_types: dict) -> str:
    """One row per file: what measuring.FileResult holds, a struct column per family."""
    families = ", ".join(
        f"m_{name} struct<" + ",".join(f"{c}:{spark_types[t]}" for c, t in columns.items()) + ">"
        for name, columns in layout)
    return ("path string, source_root string, content_hash string, size_bytes bigint, mtime_ns bigint, "
            "decoded boolean, "
            "errors array<struct<stage:string,error_kind:string,message:string,family:string,family_version:int>>, "
            + families)


def _result_arrow_schema(layout):
    import pyarrow as pa

    error = pa.struct([("stage", pa.string()), ("error_kind", pa.string()), ("message", pa.string()),
                       ("family", pa.string()), ("family_version", pa.int32())])
    fields = [("path", pa.string()), ("source_root", pa.string()), ("content_hash", pa.string()),
              ("size_bytes", pa.int64()), ("mtime_ns", pa.int64()), ("decoded", pa.bool_()),
              ("errors", pa.list_(error))]
    for name, columns in layout:
        fields.append((f"m_{name}", pa.struct([(c, getattr(pa, _ARROW_TYPES[t])()) for c, t in columns.items()])))
    return pa.schema(fields)


def measure_batches(batches: Iterable, layout, versions: dict, known_prefixes, *, rows_per_batch: int) -> Iterator:
    """mapInArrow: (path, source_root, families, expected_hash) rows in, one result row per file out.

    ``known_prefixes``: a Spark broadcast of the sorted uint64 prefixes of content
    that needs no computing (measuring.is_known); ``versions``: family -> version.
    """
    import pyarrow as pa

    from ..measuring import FileTask
    from ..parallel import MeasuringPool

    schema = _result_arrow_schema(layout)
    source_roots: dict[str, str] = {}

    def tasks():
        for batch in batches:
            for row in batch.to_pylist():
                source_roots[row["path"]] = row["source_root"]
                families = row["families"]
                yield FileTask(row["path"], families=tuple(families) if families is not None else None,
                               expected_hash=row["expected_hash"])

    out: list[dict] = []
    with MeasuringPool(1, known_prefixes.value, measure=measure_chunk_once) as pool:
        for result in pool.run(tasks()):
            out.append(safe_row(result, source_roots.pop(result.path, None), layout, versions))
            if len(out) >= rows_per_batch:
                yield arrow_batch(out, schema)
                out = []
    if out:
        yield arrow_batch(out, schema)


def arrow_batch(rows: list[dict], schema):
    """The rows as one Arrow batch; a row Arrow refuses becomes an error row of its file, never the batch's end."""
    import pyarrow as pa

    try:
        return pa.RecordBatch.from_pylist(rows, schema=schema)
    except Exception:
        pass
    kept = []
    for row in rows:
        try:
            pa.RecordBatch.from_pylist([row], schema=schema)
            kept.append(row)
        except Exception as exc:
            message = f"the result could not be stored: {type(exc).__name__}: {exc}"[:2000]
            kept.append({"path": _utf8(row["path"]), "source_root": _utf8(row["source_root"]),
                         "content_hash": _utf8(row.get("content_hash")), "decoded": False,
                         "errors": [{"stage": "decode" if row.get("content_hash") else "read",
                                     "error_kind": "unexpected_error", "message": _utf8(message),
                                     "family": None, "family_version": None}]})
    return pa.RecordBatch.from_pylist(kept, schema=schema)


def _utf8(text):
    return None if text is None else str(text).encode("utf-8", "backslashreplace").decode("utf-8")


# Hashes this pool process measured in the current task (one pool per task, so one set per task).
_measured_here: set[str] = set()


def measure_chunk_once(tasks) -> list:
    """The pool process's work: measure_file for each task, decoding identical bytes once per task."""
    from ..measuring import FileTask, content_hash, measure_file, set_stat
    from ..sources import read

    results = []
    for task in tasks:
        try:
            data, stat = read(task.path)
        except Exception:  # measure_file reads again and records why it cannot, as on DuckDB
            results.append(measure_file(task))
            continue
        seen = content_hash(data) in _measured_here
        result = measure_file(FileTask(task.path, families=task.families, expected_hash=task.expected_hash,
                                       hash_only=seen, data=data, mtime_ns=stat.mtime_ns))
        set_stat(result, stat)
        if result.decoded:
            _measured_here.add(result.content_hash)
        results.append(result)
    return results


def safe_row(result, source_root: str | None, layout, versions: dict) -> dict:
    """The result's row; a value that does not fit its column becomes an error row of this file."""
    try:
        return _result_row(result, source_root, layout, versions)
    except Exception as exc:  # never fail the batch for one file
        return {"path": result.path, "source_root": source_root, "content_hash": result.content_hash,
                "size_bytes": _int_or_none(result.size_bytes), "mtime_ns": _int_or_none(result.mtime_ns),
                "decoded": bool(result.decoded),
                "errors": [{"stage": "decode" if result.content_hash else "read", "error_kind": "unexpected_error",
                            "message": f"{type(exc).__name__}: {exc}"[:2000], "family": None,
                            "family_version": None}]}


def _result_row(result, source_root, layout, versions) -> dict:
    errors = [{"stage": e.stage, "error_kind": e.error_kind, "message": str(e.message), "family": e.family,
               "family_version": e.family_version} for e in result.errors]
    row = {"path": result.path, "source_root": source_root, "content_hash": result.content_hash,
           "size_bytes": result.size_bytes, "mtime_ns": result.mtime_ns, "decoded": bool(result.decoded),
           "errors": errors}
    for name, columns in layout:
        values = result.rows.get(name)
        if values is None:
            row[f"m_{name}"] = None
            continue
        try:
            row[f"m_{name}"] = {c: typed(values.get(c), t, c) for c, t in columns.items()}
        except ValueError as exc:  # the family's row is lost, the file's other families are kept
            row[f"m_{name}"] = None
            errors.append({"stage": "metric", "error_kind": "value_out_of_range", "message": str(exc)[:2000],
                           "family": name, "family_version": versions[name]})
    return row


def typed(value, sql_type: str, column: str):
    """``value`` as the Python value of its column type; ValueError if it does not fit."""
    if value is None:
        return None
    if sql_type in _INTEGER_RANGES:
        low, high = _INTEGER_RANGES[sql_type]
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{column}: {value!r} is not an integer")
        number = int(value)
        if not low <= number <= high:
            raise ValueError(f"{column}: {number} does not fit a {sql_type} column ({low} to {high})")
        return number
    if sql_type == "double":
        return float(value)
    if sql_type == "boolean":
        return bool(value)
    return str(value)


def _int_or_none(value):
    try:
        return int(value) if value is not None and _INTEGER_RANGES["bigint"][0] <= int(value) <= _INTEGER_RANGES["bigint"][1] else None
    except (TypeError, ValueError):
        return None
