"""Thumbnails for the report: made once per content hash from the original, then cached.

A thumbnail is the project's own decode of the original (``decoding.decode_preview``:
the guards, EXIF orientation and area averaging the metrics' decode applies, in
colour), at most ``THUMBNAIL_LONG_SIDE`` pixels on its longer side, and
stored as a JPEG named by the content hash. The name is all the cache needs:
the same bytes always give the same picture, so a report over an unchanged
warehouse finds every thumbnail on disk and opens no original.

An original that is missing, unreadable, no longer the content the warehouse
measured, or not decodable gets the placeholder and a note saying why.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

THUMBNAIL_LONG_SIDE = 256
THUMBNAIL_JPEG_QUALITY = 85
# Part of every file name: a change to how thumbnails are made (size, quality)
# bumps it, so cached ones from the old recipe are not reused.
THUMBNAIL_VERSION = 2
FOLDER = "thumbnails"
PLACEHOLDER = "placeholder.svg"

_PLACEHOLDER_SVG = """<svg xmlns="http://www.w3.org/2000/svg" width="256" height="192" viewBox="0 0 256 192">
<rect width="256" height="192" fill="#eeeeee" stroke="#bbbbbb"/>
<path d="M96 120 l24 -32 l18 22 l12 -14 l26 24 z" fill="#c8c8c8"/>
<text x="128" y="156" font-family="sans-serif" font-size="14" text-anchor="middle" fill="#777777">no picture</text>
</svg>
"""


@dataclass(frozen=True)
class Thumbnail:
    src: str            # URL relative to the report's index.html
    note: str | None    # why the placeholder stands in, if it does


@dataclass
class ThumbnailStats:
    from_cache: int = 0
    made: int = 0
    placeholders: int = 0
    originals_read: int = 0


def thumbnail_name(content_hash: str) -> str:
    if not all(c in "0123456789abcdef" for c in content_hash) or not content_hash:
        raise ValueError(f"not a content hash: {content_hash!r}")
    return f"{content_hash}.v{THUMBNAIL_VERSION}.jpg"


def make_thumbnails(out_dir: Path, wanted: Mapping[str, Sequence[str]], *,
                    workers: int | None = None) -> tuple[dict[str, Thumbnail], ThumbnailStats]:
    """A thumbnail (or the placeholder) per content hash; ``wanted`` maps each hash to paths that held it."""
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    (out_dir / PLACEHOLDER).write_text(_PLACEHOLDER_SVG)
    stats = ThumbnailStats()
    result: dict[str, Thumbnail] = {}
    to_make = []
    for content_hash, paths in wanted.items():
        name = thumbnail_name(content_hash)
        if (folder / name).is_file():
            result[content_hash] = Thumbnail(f"{FOLDER}/{name}", None)
            stats.from_cache += 1
        else:
            to_make.append((content_hash, list(paths)))
    workers = workers or min(4, os.cpu_count() or 1)
    with ThreadPoolExecutor(max_workers=workers) as pool:  # OpenCV releases the GIL while it decodes
        for content_hash, (note, reads) in zip(
                [h for h, _ in to_make], pool.map(lambda item: _make_one(folder, *item), to_make)):
            stats.originals_read += reads
            if note is None:
                result[content_hash] = Thumbnail(f"{FOLDER}/{thumbnail_name(content_hash)}", None)
                stats.made += 1
            else:
                result[content_hash] = Thumbnail(PLACEHOLDER, note)
                stats.placeholders += 1
    return result, stats


def placeholder(note: str) -> Thumbnail:
    return Thumbnail(PLACEHOLDER, note)


def _make_one(folder: Path, content_hash: str, paths: Iterable[str]) -> tuple[str | None, int]:
    """(None, originals read) once the thumbnail is written; else (why not, originals read)."""
    notes = []
    reads = 0
    for path in paths:
        reads += 1
        note = _try_path(folder, content_hash, path)
        if note is None:
            return None, reads
        notes.append(note)
    return ("; ".join(dict.fromkeys(notes)) or "no path holds this content"), reads


def _try_path(folder: Path, content_hash: str, path: str) -> str | None:
    import cv2

    from ..decoding import ImageError, decode_preview
    from ..measuring import content_hash as hash_bytes
    from ..sources import ReadError, read

    if "://" in path:
        return "the original is not a local file, so no thumbnail is made"
    try:
        data, _ = read(path)
    except FileNotFoundError:
        return "the original is missing: nothing is at its path any more"
    except PermissionError:
        return "the original cannot be read: permission denied"
    except (ImageError, ReadError) as exc:
        if exc.kind == "not_a_file":
            return "the original cannot be read: it is not a regular file any more"
        return f"the original cannot be read ({exc.kind}): {exc}"
    except (OSError, ValueError) as exc:
        return f"the original cannot be read: {exc}"
    if hash_bytes(data) != content_hash:
        return "the file has changed since the last extract; run extract again to see it"
    try:
        bgr = decode_preview(data, THUMBNAIL_LONG_SIDE)
        ok, encoded = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, THUMBNAIL_JPEG_QUALITY])
        if not ok:
            return "the thumbnail could not be encoded"
    except ImageError as exc:
        return f"the original cannot be decoded ({exc.kind}): {exc}"
    except Exception as exc:  # a hostile file must cost its card only, never the report
        return f"the original cannot be decoded: {type(exc).__name__}: {exc}"
    target = folder / thumbnail_name(content_hash)
    partial = target.with_suffix(f".{os.getpid()}.{id(data)}.part")
    partial.write_bytes(encoded.tobytes())
    os.replace(partial, target)  # never a half-written thumbnail under the cached name
    return None
