"""Where images come from, behind one face: local folders and ``s3://`` prefixes.

The loader asks a source three things and never which kind it holds:

* what is there: ``check_sources`` (the stored roots, or one SourceError naming
  the first source that cannot be walked) and ``walk_sources`` (a FoundFile
  per image, with its change marker; problems collected in a Walk);
* give me these bytes: ``read(path)``, in whatever process it runs;
* what is the stored name: ``FoundFile.path``.

``local`` and ``s3`` each implement the three; this module picks one by the
stored name (``s3://`` or not).
"""

from __future__ import annotations

from typing import Iterator

from . import local, s3
from .base import (IMAGE_EXTENSIONS, MAX_FILE_BYTES, FoundFile, ObjectStat, ReadError, SourceError, Walk,
                   WalkProblem, is_image_name)

__all__ = ["IMAGE_EXTENSIONS", "MAX_FILE_BYTES", "FoundFile", "ObjectStat", "ReadError", "SourceError", "Walk",
           "WalkProblem", "check_sources", "init_reader", "is_image_name", "read", "reader_state",
           "walk_sources"]


def check_sources(sources: list[str]) -> list[str]:
    """The stored roots of ``sources``, in order; raises SourceError naming the first one that is not there."""
    return [s3.check_source(source) if s3.is_s3(source) else local.check_sources([source])[0]
            for source in sources]


def walk_sources(roots: list[str], walk: Walk) -> Iterator[FoundFile]:
    """Every image under ``roots``: the local roots first (one walk, so no folder twice), then each prefix."""
    yield from local.walk_sources([r for r in roots if not s3.is_s3(r)], walk)
    for root in roots:
        if s3.is_s3(root):
            yield from s3.walk(root, walk)


def read(path: str) -> tuple[bytes, ObjectStat]:
    """The bytes a stored name holds now, and the stat they were read at (ReadError / OSError if not)."""
    return s3.read(path) if s3.is_s3(path) else local.read(path)


def reader_state() -> dict:
    """What a worker process needs to read from every kind of source (picklable)."""
    return {"s3": s3.reader_state()}


def init_reader(state: dict | None) -> None:
    if state:
        s3.init_reader(state["s3"])
