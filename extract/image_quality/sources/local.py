"""Local sources: image files under folders, and the bytes of one file.

* Recursive walk; an image is a regular file (or a symlink to one) whose
  extension, case-insensitively, is one of ``IMAGE_EXTENSIONS``.
* Hidden folders (name starting with ".") are skipped, hidden files too.
* Symlinked files are followed (stat of the target) and stored under the link's
  own path; symlinked folders are followed as well, but a folder already walked
  (same device and inode) is never entered twice, so link loops end.
* Paths are stored absolute, normalised and POSIX (``os.path.abspath`` without
  resolving links), as is the source root they were found under, in the exact,
  reversible text form of ``paths.to_text`` (any bytes a name holds survive).
  The walk itself runs on bytes, so no name is ever mangled by a decoding.
* A folder that cannot be listed, a dangling link, a loop of file links, or something
  that is not a regular file (a FIFO, socket or device named like an image,
  never opened: opening a FIFO would block) is reported as a problem and the
  walk goes on; the loader records it and does not close the history of paths
  under a folder it could not see.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import Iterator

from .. import paths
from .base import (MAX_FILE_BYTES, FoundFile, ObjectStat, ReadError, SourceError, Walk, WalkProblem,
                   is_image_name)

__all__ = ["FoundFile", "SourceError", "Walk", "WalkProblem", "check_sources", "is_image_name",
           "normalise_path", "read", "walk_sources"]


def normalise_path(path: str | bytes) -> str:
    """The stored form of a path: absolute, normalised, POSIX, exact (see ``paths``)."""
    return paths.to_text(_absolute(path))


def _absolute(path: str | bytes) -> bytes:
    return os.path.abspath(os.fsencode(path)).replace(os.fsencode(os.sep), b"/")


def check_sources(sources: list[str]) -> list[str]:
    """Normalised source roots; raises SourceError naming the first one that is not there."""
    roots = []
    for source in sources:
        root = _absolute(source)
        if not os.path.exists(root):
            raise SourceError(f"source {paths.to_text(source)} does not exist")
        if not (os.path.isdir(root) or is_image_name(root)):
            raise SourceError(f"source {paths.to_text(source)} is neither a folder nor an image file")
        roots.append(paths.to_text(root))
    return roots


def walk_sources(roots: list[str], walk: Walk) -> Iterator[FoundFile]:
    """Yield every image file under ``roots`` (stored forms), in a stable order per folder.

    A folder reached twice (overlapping sources, links) is walked once; a file
    given both as a source and inside a source folder may be yielded twice, and
    the loader keeps its first sighting.
    """
    seen_dirs: set[tuple[int, int]] = set()
    for root in roots:
        os_root = paths.to_os(root)
        if not os.path.isdir(os_root):
            found = _stat_file(os_root, paths.to_text(os.path.dirname(os_root)), walk)
            if found:
                yield found
            continue
        yield from _walk_folder(os_root, root, seen_dirs, walk)


def _walk_folder(folder: bytes, root: str, seen_dirs: set, walk: Walk) -> Iterator[FoundFile]:
    try:
        st = os.stat(folder)
    except OSError as exc:
        walk.problems.append(WalkProblem(paths.to_text(folder), "unreadable_folder", _reason(exc)))
        return
    key = (st.st_dev, st.st_ino)
    if key in seen_dirs:
        return
    seen_dirs.add(key)
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as exc:
        walk.problems.append(WalkProblem(paths.to_text(folder), "unreadable_folder", _reason(exc)))
        return
    if entries:
        try:  # listed is not entered: without search permission nothing in it can be stat-ed or read
            os.stat(folder.rstrip(b"/") + b"/.")
        except OSError as exc:
            walk.problems.append(WalkProblem(paths.to_text(folder), "unreadable_folder",
                                             f"the folder can be listed but not entered: {_reason(exc)}"))
            return
    subfolders = []
    for entry in entries:
        if entry.name.startswith(b"."):
            continue
        path = folder.rstrip(b"/") + b"/" + entry.name
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


def _stat_file(path: bytes, root: str, walk: Walk) -> FoundFile | None:
    try:
        st = os.stat(path)  # follows symlinks
    except FileNotFoundError:
        if os.path.islink(path):
            walk.problems.append(WalkProblem(paths.to_text(path), "broken_link", "the symlink points to nothing"))
        return None  # vanished between listing and stat: simply not there
    except OSError as exc:
        kind = "link_loop" if exc.errno == errno.ELOOP else "unreadable_file"
        walk.problems.append(WalkProblem(paths.to_text(path), kind, _reason(exc)))
        return None
    if not stat.S_ISREG(st.st_mode):
        walk.problems.append(WalkProblem(
            paths.to_text(path), "not_a_file",
            f"named like an image but is a {_file_type(st.st_mode)}, not a regular file; not opened"))
        return None
    return FoundFile(paths.to_text(path), root, st.st_size, st.st_mtime_ns)


def _file_type(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "FIFO"), (stat.S_ISSOCK, "socket"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device")):
        if test(mode):
            return name
    return "special file"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def read(path: str) -> tuple[bytes, ObjectStat]:
    """The bytes of the file a stored path names, and the stat they were read at.

    Raises ReadError if it is not a regular file (opened without blocking, so a
    FIFO swapped in after discovery cannot hang a worker), is larger than
    ``MAX_FILE_BYTES``, or changes while it is read; OSError if it cannot be opened.
    """
    fd = os.open(paths.to_os(path), os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(fd, "rb", closefd=True) as f:
        before = os.fstat(fd)
        if not stat.S_ISREG(before.st_mode):
            raise ReadError("not_a_file", "not a regular file (it changed into one after discovery)")
        if before.st_size > MAX_FILE_BYTES:
            raise ReadError("file_too_large", f"the file holds {before.st_size:,} bytes, above the limit of "
                                              f"{MAX_FILE_BYTES:,}; not read")
        data = f.read(MAX_FILE_BYTES + 1)
        after = os.fstat(fd)
    if (before.st_size, before.st_mtime_ns) != (after.st_size, after.st_mtime_ns) or len(data) != after.st_size:
        raise ReadError("changed_while_reading", "the file changed while it was being read")
    return data, ObjectStat(after.st_size, after.st_mtime_ns)
