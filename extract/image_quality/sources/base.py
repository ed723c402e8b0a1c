"""What every source hands the loader: a listing with change markers, and errors with stable kinds.

A source answers three questions: what is there (``FoundFile``: the stored
name, its source root, and a change marker: size and mtime for a file; size,
LastModified and ETag for an object), give me these bytes (``read``, returning
the bytes and the ``ObjectStat`` they were read at), and what is the stored
name. Nothing here touches the database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})

# Larger files are not read: a 100-megapixel image (decoding.MAX_PIXELS) takes
# at most 800 MB even as uncompressed 16-bit RGBA, and a worker holds the bytes.
MAX_FILE_BYTES = 1 << 30


@dataclass(frozen=True)
class FoundFile:
    path: str          # stored form: paths.to_text for a file, s3://bucket/key for an object
    source_root: str
    size_bytes: int
    mtime_ns: int
    etag: str | None = None        # objects only: a change marker, never a content hash


@dataclass(frozen=True)
class ObjectStat:
    """What the bytes were read at: stored in the stat cache and in raw.files."""

    size_bytes: int
    mtime_ns: int
    etag: str | None = None
    version_id: str | None = None  # objects in a versioned bucket


@dataclass(frozen=True)
class WalkProblem:
    path: str
    kind: str       # unreadable_folder | broken_link | link_loop | unreadable_file | not_a_file
    message: str


@dataclass
class Walk:
    """The outcome of walking sources: files are yielded, problems collected."""

    problems: list[WalkProblem] = field(default_factory=list)

    @property
    def unreadable_folders(self) -> list[str]:
        return [p.path for p in self.problems if p.kind == "unreadable_folder"]


class SourceError(ValueError):
    """A source the run was given cannot be walked at all."""


class ReadError(Exception):
    """The bytes of one listed file or object cannot be had; ``kind`` is a short, stable error class."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


def is_image_name(name: str | bytes) -> bool:
    return os.fsdecode(os.path.splitext(os.fsencode(name))[1]).lower() in IMAGE_EXTENSIONS
