"""``image-quality watch``: extract what changed, then ``dbt build``, whenever the sources change.

* Folders are watched with filesystem events (watchdog: inotify on Linux,
  FSEvents on macOS); ``s3://`` prefixes are listed every ``interval`` seconds
  and a cycle starts when the listing's change markers differ from the last.
* A change starts a cycle once the sources have been quiet for ``debounce``
  seconds (a copy of many files is one cycle, not one per file). A cycle is a
  load run over every source (the loader reads only what changed, and closes
  what was removed), then ``dbt build`` when the run changed something. Each
  cycle logs one line. The first cycle runs at start, to catch up.
* It survives: bad files (error rows, as for any run), a warehouse locked by
  another process (logged, tried again ``interval`` seconds later), a failing
  dbt build (logged; the next change builds again), a source that cannot be
  listed for a while (logged, tried again).
* Between cycles nothing holds the DuckDB file: the loader's connection is
  closed at the end of its run and dbt runs in its own process, so analysts
  can open the warehouse read-only while it watches.
* SIGINT and SIGTERM end it after the current cycle. Workers and dbt do not
  see a terminal's Ctrl-C (they start with SIGINT ignored, dbt in its own
  session), so the cycle in progress finishes whole.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from . import sources, warehouse
from .loader import extract

MAX_DEBOUNCE_FACTOR = 10   # a stream of events never delays a cycle by more than 10 x debounce


class Watcher:
    """Watches ``source_list`` and runs cycles until ``stop()`` (or a signal)."""

    def __init__(self, source_list: list[str], *, db_path: str, project_dir: Path, interval: float = 10.0,
                 debounce: float = 2.0, workers: int | None = None, lock_timeout_s: float = 5.0,
                 batch_files: int = 500, log: Callable[[str], None] | None = None,
                 file_time_limit_s: float | None = None):
        self.sources = list(source_list)
        self.roots = sources.check_sources(self.sources)   # SourceError: the watch cannot start
        self.db_path = db_path
        self.project_dir = project_dir
        self.interval = interval
        self.debounce = debounce
        self.workers = workers
        self.lock_timeout_s = lock_timeout_s
        self.batch_files = batch_files
        self.file_time_limit_s = file_time_limit_s
        self.log = log or _print_line
        self.cycles = 0
        self._stopping = threading.Event()
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._pending_since: float | None = time.monotonic()   # the first cycle catches up
        self._last_event = 0.0
        self._retry_at = 0.0
        self._listings: dict[str, object] = {}
        self._observer = None
        self._handler = None
        self._watches: dict[tuple, object] = {}       # (real path, device, inode) -> watchdog's watch
        self._watch_kinds: dict[tuple, bool] = {}     # ... -> recursive
        self._deleted_folders: set[bytes] = set()     # watched folders whose own deletion was seen
        self._watched_once = False

    # -- what starts a cycle -----------------------------------------------------------

    def changed(self) -> None:
        """Something under a source changed (called from the event thread too)."""
        with self._lock:
            now = time.monotonic()
            self._last_event = now
            if self._pending_since is None:
                self._pending_since = now
        self._wake.set()

    def folder_deleted(self, path: bytes) -> None:
        """A folder was deleted (event thread): if it is a watched one, its watch died with it."""
        with self._lock:
            self._deleted_folders.add(path)
        self.changed()

    def stop(self, *_signal_args) -> None:
        self._stopping.set()
        self._wake.set()

    def _due(self, now: float) -> bool:
        with self._lock:
            if self._pending_since is None or now < self._retry_at:
                return False
            quiet = now - self._last_event >= self.debounce
            return quiet or now - self._pending_since >= self.debounce * MAX_DEBOUNCE_FACTOR

    def _start_observer(self) -> None:
        folders = [r for r in self.roots if not sources.s3.is_s3(r)]
        if not folders:
            return
        try:
            from watchdog.observers import Observer
        except ImportError:
            raise sources.SourceError("watching folders needs watchdog: pip install 'image-quality[watch]'") from None

        self._handler = _FolderEvents(self.changed, self.folder_deleted)
        self._observer = Observer()
        self._observer.daemon = True
        self._observer.start()
        self._refresh_watches(full=True)

    def _refresh_watches(self, full: bool) -> None:
        """Watch what the sources are now: each folder as it is (a folder deleted and made again is
        another folder to the kernel), and with ``full`` every folder a symlink under them leads to,
        as ``extract`` follows them. A new watch is a change: files may have come before it."""
        if self._observer is None:
            return
        wanted = {}
        for root in self.roots:
            if not sources.s3.is_s3(root):
                wanted.update(_folders_to_watch(root, follow_links=full))
        if not full:   # keep the linked folders found by the last full look
            wanted.update({key: recursive for key, recursive in self._watch_kinds.items()
                           if key not in wanted and _same_folder(key)})
        with self._lock:
            deleted, self._deleted_folders = self._deleted_folders, set()
        added = False
        # a folder made again may reuse the deleted one's inode, and so its key: its watch is dead all the same
        for key in [k for k in self._watches if k not in wanted or k[0] in deleted]:
            try:
                self._observer.unschedule(self._watches.pop(key))
            except Exception:  # its folder is gone, and its watch with it
                pass
            self._watch_kinds.pop(key, None)
        for key, recursive in wanted.items():
            if key in self._watches:
                continue
            try:
                self._watches[key] = self._observer.schedule(self._handler, os.fsdecode(key[0]), recursive=recursive)
            except OSError:  # gone again, or not readable: the next look tries again
                continue
            self._watch_kinds[key] = recursive
            added = True
        if added and self._watched_once:
            self.changed()
        self._watched_once = True

    def _poll_prefixes(self) -> None:
        """List each s3:// root; a listing that differs from the last one is a change."""
        for root in self.roots:
            if not sources.s3.is_s3(root):
                continue
            walk = sources.Walk()
            marker = frozenset((f.path, f.size_bytes, f.mtime_ns, f.etag) for f in sources.s3.walk(root, walk))
            if walk.problems:
                continue   # not listable now: the next poll tries again
            if root in self._listings and self._listings[root] != marker:
                self.changed()
            self._listings[root] = marker

    # -- the loop ------------------------------------------------------------------------

    def run(self, max_cycles: int | None = None) -> int:
        """Watch until stopped; returns the number of cycles run."""
        self._start_observer()
        next_poll = time.monotonic()
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                if now >= next_poll:
                    self._poll_prefixes()
                    self._refresh_watches(full=False)
                    next_poll = time.monotonic() + self.interval
                if self._due(time.monotonic()):
                    self._cycle()
                    self._refresh_watches(full=True)
                    if max_cycles is not None and self.cycles >= max_cycles:
                        break
                    continue
                self._wake.wait(timeout=min(self.debounce / 2 or 0.1, max(0.05, next_poll - time.monotonic())))
                self._wake.clear()
        finally:
            if self._observer is not None:
                self._observer.stop()
                self._observer.join(timeout=5)
        return self.cycles

    def _cycle(self) -> None:
        with self._lock:
            self._pending_since = None
        self.cycles += 1
        first = self.cycles == 1
        head = f"cycle {self.cycles}:"
        started = time.monotonic()
        try:
            summary = extract(self.sources, db_path=self.db_path, workers=self.workers,
                              lock_timeout_s=self.lock_timeout_s, batch_files=self.batch_files,
                              file_time_limit_s=self.file_time_limit_s)
        except (warehouse.WarehouseLockedError, warehouse.WarehouseOpenError, sources.SourceError) as exc:
            self._retry_later()
            self.log(f"{head} extract could not start ({exc}); trying again in {self.interval:g} s")
            return
        except Exception as exc:  # a bug or a crash of the run: log it, keep watching, try again
            self._retry_later()
            self.log(f"{head} extract failed ({type(exc).__name__}: {_one_line(exc)}); "
                     f"trying again in {self.interval:g} s")
            return
        c = summary.counts
        line = (f"{head} run {summary.run_id}: {c.paths_added} added, {c.paths_changed} changed, "
                f"{c.paths_removed} removed, {c.files_failed} failed ({c.files_scanned} scanned, "
                f"{c.files_read} read) in {time.monotonic() - started:.1f} s")
        if first or c.paths_added or c.paths_changed or c.paths_removed or c.content_new:
            line += "; " + self._dbt_build()
        else:
            line += "; nothing changed, dbt build skipped"
        self.log(line)

    def _retry_later(self) -> None:
        with self._lock:
            now = time.monotonic()
            self._pending_since = self._pending_since or now
            self._retry_at = now + self.interval

    def _dbt_build(self) -> str:
        started = time.monotonic()
        env = dict(os.environ, IMAGE_QUALITY_DB=os.path.abspath(self.db_path))
        command = [sys.executable, "-c", "from dbt.cli.main import cli; cli()", "build", "--quiet",
                   "--project-dir", str(self.project_dir), "--profiles-dir", str(self.project_dir)]
        # Its own session: a terminal's Ctrl-C stops the watch after this build, not the build.
        done = subprocess.run(command, env=env, cwd=self.project_dir, capture_output=True, text=True,
                              start_new_session=True)
        seconds = time.monotonic() - started
        if done.returncode == 0:
            return f"dbt build ok in {seconds:.1f} s"
        last = [ln for ln in (done.stdout + "\n" + done.stderr).splitlines() if ln.strip()]
        return f"dbt build FAILED (exit {done.returncode}) in {seconds:.1f} s: {last[-1].strip() if last else ''}"


def _folders_to_watch(root: str, follow_links: bool) -> dict[tuple, bool]:
    """(real path, device, inode) -> recursive, of the folders that hold ``root``'s images.

    inotify does not follow symlinks, so each folder a symlink under the root
    leads to outside the folders already watched is watched on its own; a
    folder is visited once (device, inode), so link loops end, and hidden
    folders are skipped, as in the extract's walk.
    """
    from . import paths

    os_root = paths.to_os(root)
    if not os.path.isdir(os_root):   # an image file given as a source: its folder, not recursively
        folder = os.path.dirname(os_root)
        key = _folder_key(folder)
        return {key: False} if key else {}
    key = _folder_key(os_root)
    if key is None:
        return {}
    found = {key: True}
    if not follow_links:
        return found
    seen, stack, watched = {key[1:]}, [os_root], [key[0]]
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as entries:
                subfolders = [(e.path, e.is_symlink()) for e in entries
                              if not e.name.startswith(b".") and _is_folder(e)]
        except OSError:
            continue
        for path, is_link in subfolders:
            sub = _folder_key(path)
            if sub is None or sub[1:] in seen:
                continue
            seen.add(sub[1:])
            if is_link and not any(sub[0] == w or sub[0].startswith(w.rstrip(b"/") + b"/") for w in watched):
                found[sub] = True
                watched.append(sub[0])
            stack.append(path)
    return found


def _is_folder(entry) -> bool:
    try:
        return entry.is_dir(follow_symlinks=True)
    except OSError:
        return False


def _folder_key(folder: bytes) -> tuple | None:
    try:
        real = os.path.realpath(folder)
        st = os.stat(real)
    except OSError:
        return None
    return (real, st.st_dev, st.st_ino)


def _same_folder(key: tuple) -> bool:
    return _folder_key(key[0]) == key


class _FolderEvents:
    """watchdog handler: any event on an image name or a folder is a change."""

    def __init__(self, changed: Callable[[], None], folder_deleted: Callable[[bytes], None]):
        self._changed = changed
        self._folder_deleted = folder_deleted

    def dispatch(self, event) -> None:
        if event.event_type in ("opened", "closed_no_write"):
            return
        if event.is_directory and event.event_type == "deleted":
            self._folder_deleted(os.fsencode(event.src_path))
            return
        if event.is_directory:
            # a folder's own "modified" is any file inside it, the warehouse's too: not a change
            if event.event_type != "modified":
                self._changed()
            return
        names = [os.fsdecode(event.src_path), os.fsdecode(getattr(event, "dest_path", "") or "")]
        if any(n and sources.is_image_name(n) for n in names):
            self._changed()
        elif event.event_type in ("created", "moved") and any(n and os.path.isdir(n) for n in names):
            self._changed()   # a symlink to a folder: inotify calls it a file, the walk follows it


def install_signal_handlers(watcher: Watcher) -> None:
    """SIGINT and SIGTERM stop the watch after the current cycle.

    The worker server is started first with SIGINT ignored, so the workers it
    forks inherit that and a terminal's Ctrl-C cannot cut a file in two.
    """
    from .parallel import start_worker_server

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        start_worker_server()
    finally:
        signal.signal(signal.SIGINT, previous)
    signal.signal(signal.SIGINT, watcher.stop)
    signal.signal(signal.SIGTERM, watcher.stop)


def _print_line(text: str) -> None:
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"{stamp} {text}", flush=True)


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:500]
