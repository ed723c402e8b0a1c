"""Finding image files under the sources a run is given.

* Recursive walk; an image is a regular file (or a symlink to one) whose
  extension, case-insensitively, is one of ``IMAGE_EXTENSIONS``.
* Hidden folders (name starting with ".") are skipped, hidden files too.
* Symlinked files are followed (stat of the target) and stored under the link's
  own path; symlinked folders are followed as well, but a folder already walked
  (same device and inode) is never entered twice, so link loops end.
* Paths are stored absolute, normalised and POSIX (``os.path.abspath`` without
  resolving links), as is the source root they were found under.
* A folder that cannot be listed, or a dangling link, is reported as a problem
  and the walk goes on; the loader records it and does not close the history
  of paths under a folder it could not see.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from typing import Iterator

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"})


@dataclass(frozen=True)
class FoundFile:
    path: str
    source_root: str
    size_bytes: int
    mtime_ns: int


@dataclass(frozen=True)
class WalkProblem:
    path: str
    kind: str       # unreadable_folder | broken_link | unreadable_file
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


def normalise_path(path: str) -> str:
    return os.path.abspath(path).replace(os.sep, "/")


def is_image_name(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in IMAGE_EXTENSIONS


def check_sources(sources: list[str]) -> list[str]:
    """Normalised source roots; raises SourceError naming the first one that is not there."""
    roots = []
    for source in sources:
        root = normalise_path(source)
        if not os.path.exists(root):
            raise SourceError(f"source {source} does not exist")
        if not (os.path.isdir(root) or is_image_name(root)):
            raise SourceError(f"source {source} is neither a folder nor an image file")
        roots.append(root)
    return roots


def walk_sources(roots: list[str], walk: Walk) -> Iterator[FoundFile]:
    """Yield every image file under ``roots``, in a stable order per folder.

    A folder reached twice (overlapping sources, links) is walked once; a file
    given both as a source and inside a source folder may be yielded twice, and
    the loader keeps its first sighting.
    """
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        if os.path.isfile(root):
            found = _stat_file(root, os.path.dirname(root), walk)
            if found:
                yield found
            continue
        yield from _walk_folder(root, root, seen_dirs, walk)


def _walk_folder(folder: str, root: str, seen_dirs: set, walk: Walk) -> Iterator[FoundFile]:
    try:
        st = os.stat(folder)
    except OSError as exc:
        walk.problems.append(WalkProblem(folder, "unreadable_folder", _reason(exc)))
        return
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs:
        return
    seen_dirs.add(key)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        walk.problems.append(WalkProblem(folder, "unreadable_folder", _reason(exc)))
        return
    subfolders = []
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder.rstrip("/") + "/" + entry.name
        try:
            is_dir = entry.is_dir(follow_symlinks=True)
        except OSError:
            is_dir = False
        if is_dir:
            subfolders.append(path)
        elif is_image_name(entry.name):
            found = _stat_file(path, root, walk)
            if found:
                yield found
    for sub in subfolders:
        yield from _walk_folder(sub, root, seen_dirs, walk)


def _stat_file(path: str, root: str, walk: Walk) -> FoundFile | None:
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        if os.path.islink(path):
            walk.problems.append(WalkProblem(path, "broken_link", "the symlink points to nothing"))
        return None  # vanished between listing and stat: simply not there
    except OSError as exc:
        walk.problems.append(WalkProblem(path, "unreadable_file", _reason(exc)))
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    return FoundFile(path, root, st.st_size, st.st_mtime_ns)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
