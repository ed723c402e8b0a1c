"""What a load run must read and compute, as SQL that DuckDB and Spark SQL both run.

Every engine plans a run the same way, from the raw tables and the files its
walk found (a table or view named ``discovered``: path, source_root,
size_bytes, mtime_ns):

* **to read**: discovered files whose (size, mtime_ns) the stat cache does not
  hold for the content their open history interval holds (every file with
  ``verify``). Files sharing a size may be copies: they are hashed first and
  decoded once (``size_shared``).
* **complete content**: a content hash needs no computing when every family
  has a row at its current version (or an error recorded for that version),
  or when the bytes failed to decode or crashed a worker.
* **stale content**: content an unchanged path holds that lacks a family at
  its current version (a version bump, a copy hashed but not decoded, a run
  that died): one path per hash, and the families it lacks.

Only the SQL that every engine understands is here; what differs (bound
parameters, list aggregates) is passed in by the engine's own module.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Sequence

if TYPE_CHECKING:
    from .metrics.base import MetricFamily

# Error stages that belong to the bytes themselves (not to one family): content
# that failed to decode, or crashed its worker, is not decoded again on later runs.
CONTENT_ERROR_STAGES = ("decode", "worker")

# Identifiers that come from code (family tables and columns) are checked
# against this pattern before they are used in SQL.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


def check_identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def unchanged_cte(schema: str) -> str:
    """CTE ``unchanged``: discovered files the stat cache vouches for.

    A file is unchanged when the stat cache knows its (size, mtime_ns, and for
    an object its ETag) and its path still has an open history interval holding
    the cached content: a path closed as removed and later restored with the
    same stat is read again. (coalesce, not ``is not distinct from``: both
    engines' SQL.)
    """
    return f"""
    unchanged as (
        select d.path, d.source_root, d.size_bytes, d.mtime_ns, c.content_hash
          from discovered d
          join {schema}.stat_cache c
            on c.path = d.path and c.size_bytes = d.size_bytes and c.mtime_ns = d.mtime_ns
           and coalesce(c.etag, '') = coalesce(d.etag, '')
          join {schema}.files f
            on f.path = d.path and f.valid_to_run is null and f.content_hash = c.content_hash
    )"""


def to_read_cte(schema: str, verify_sql: str) -> str:
    """CTEs ``unchanged`` and ``to_read``; ``verify_sql`` is a boolean (literal or parameter)."""
    return f"""
    {unchanged_cte(schema)},
    to_read as (
        select d.path, d.source_root, d.size_bytes, d.mtime_ns
          from discovered d
         where {verify_sql} or d.path not in (select path from unchanged)
    )"""


def read_plan_sql(schema: str, verify_sql: str) -> str:
    """(seq, path, source_root, size_bytes, mtime_ns, held_hash, size_shared) of each file to read.

    held_hash is the content the path holds in its open interval (null when new);
    size_shared says another file to read has the same size.
    """
    return f"""
        with {to_read_cte(schema, verify_sql)}
        select row_number() over (order by t.path) as seq,
               t.path, t.source_root, t.size_bytes, t.mtime_ns, f.content_hash,
               count(*) over (partition by t.size_bytes) > 1 as size_shared
          from to_read t
          left join {schema}.files f on f.path = t.path and f.valid_to_run is null"""


def content_done_for_family_sql(family: "MetricFamily", schema: str) -> str:
    """Content hashes that need no computing of ``family`` at its current version."""
    table = check_identifier(family.table)
    return f"""
        select content_hash from {schema}.{table} where metric_version = {int(family.version)}
        union
        select content_hash from {schema}.extract_errors
         where content_hash is not null and stage = 'metric'
           and family = '{check_identifier(family.name)}' and family_version = {int(family.version)}"""


def content_failed_sql(schema: str) -> str:
    """Content hashes whose bytes failed to decode or crashed a worker."""
    stages = ", ".join(f"'{stage}'" for stage in CONTENT_ERROR_STAGES)
    return f"""select content_hash from {schema}.extract_errors
                where content_hash is not null and stage in ({stages})"""


def complete_hashes_sql(families: Sequence["MetricFamily"], schema: str) -> str:
    """Content hashes that need no computing at all."""
    parts = [f"({content_done_for_family_sql(f, schema)})" for f in families]
    done_all = " intersect ".join(parts) if parts else \
        f"select content_hash from {schema}.extract_errors where false"
    return f"({done_all}) union ({content_failed_sql(schema)})"


def stale_plan_sql(families: Sequence["MetricFamily"], schema: str, sorted_list_of_families: str,
                   unchanged_view: str | None = None) -> str:
    """(seq, content_hash, path, source_root, families) of content that lacks a family.

    ``sorted_list_of_families`` is the engine's aggregate of ``m.family`` into a
    sorted list (DuckDB: ``list(m.family order by m.family)``). Empty families: no rows.
    ``unchanged_view``: a table or view already holding ``unchanged`` (an engine
    that inlines CTEs would otherwise compute it once per family).
    """
    missing = " union all ".join(
        f"""select h.content_hash, '{check_identifier(f.name)}' as family
              from present h
             where h.content_hash not in ({content_done_for_family_sql(f, schema)})"""
        for f in families) or "select content_hash, '' as family from present where false"
    unchanged = f"unchanged as (select * from {unchanged_view})" if unchanged_view else unchanged_cte(schema)
    return f"""
        with {unchanged},
        present as (
            select content_hash, min(path) as path from unchanged group by content_hash
        ),
        missing as ({missing})
        select row_number() over (order by p.path) as seq,
               m.content_hash, p.path, d.source_root, {sorted_list_of_families} as families
          from missing m
          join present p on p.content_hash = m.content_hash
          join discovered d on d.path = p.path
         where m.content_hash not in ({content_failed_sql(schema)})
         group by m.content_hash, p.path, d.source_root"""
