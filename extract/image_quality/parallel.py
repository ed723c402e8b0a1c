"""A process pool over files that survives a worker dying mid-image.

Files go to workers in small chunks, with a bounded number of chunks in flight
so memory stays flat however many files a run has. If a worker process dies (a
decoder crashing on hostile bytes, the kernel's OOM killer), Python's pool is
broken for every task in flight: those files are retried one at a time in a
fresh pool, and a file that kills its worker on its own is reported as
``worker_crashed``, while the run goes on.

Per-file time limit: each worker notes in shared memory which file it is
measuring and since when; the parent stops (SIGKILL) a worker that has spent
longer than ``time_limit_s`` of wall time on one file, records that file as
``time_limit`` and re-runs the other files the pool lost, as after a crash. A
decoder stuck in C code (a progressive JPEG whose scans repeat thousands of
times) cannot be interrupted from inside its process: killing it is the one
bound that always holds.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import time
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Iterable, Iterator

import numpy as np

from . import sources
from .measuring import FileError, FileResult, FileTask, content_hash, init_worker, measure_chunk, set_stat

CHUNK_FILES = 4           # files per round trip to a worker
IN_FLIGHT_PER_WORKER = 3  # chunks queued per worker: enough to keep it busy, few enough to bound memory
# Wall seconds one file may take to read, decode and measure: an ordinary photo takes well under
# one, a 100-megapixel PNG a few; a file still measuring after this is stopped (``time_limit``).
DEFAULT_FILE_TIME_LIMIT_S = 60.0
_SLOT_FIELDS = 3          # per worker, in shared memory: pid, serial of the file it measures, started (monotonic)

# In a worker: its slot in the shared clock (set by _init_timed_worker).
_clock = None
_slot = -1


def _context():
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        # Never plain fork: the parent holds a DuckDB connection and its threads.
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["image_quality.worker_imports"])
        return ctx
    return multiprocessing.get_context("spawn")


def start_worker_server() -> None:
    """Start the server that workers fork from, without waiting for it.

    The forkserver imports what workers need (``worker_imports``: OpenCV,
    SciPy, Pillow, the metric families; about 0.5 s) once, and every worker
    forks from it ready to run. Started
    when a run begins, those imports overlap the walk and the stat-cache
    comparison instead of delaying the first file; a run with nothing to read
    never waits for it. Without forkserver (spawn), there is nothing to warm.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        from multiprocessing import forkserver

        _context()
        forkserver.ensure_running()


class MeasuringPool:
    """Runs FileTasks in worker processes; results come back in completion order."""

    def __init__(self, workers: int, known_prefixes: np.ndarray,
                 time_limit_s: float | None = DEFAULT_FILE_TIME_LIMIT_S, measure=measure_chunk):
        self.workers = max(1, workers)
        self.known_prefixes = known_prefixes
        self.time_limit_s = time_limit_s
        self.measure = measure  # what a worker runs on a chunk of FileTasks (a module-level function)
        self._executor: ProcessPoolExecutor | None = None
        self._clock = None
        self._serial = 0
        self._stopped: set[int] = set()   # serials of files whose worker was stopped at the limit

    def __enter__(self) -> "MeasuringPool":
        return self

    def __exit__(self, *exc) -> None:
        self._shutdown()

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            ctx = _context()
            self._clock = (ctx.Array("d", self.workers * _SLOT_FIELDS, lock=False), ctx.Value("i", 0))
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=ctx, initializer=_init_timed_worker,
                initargs=(self.known_prefixes, sources.reader_state(), self._clock))
        return self._executor

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def _submit(self, chunk: list[FileTask]) -> tuple[Future, list[tuple[int, FileTask]]]:
        numbered = []
        for task in chunk:
            self._serial += 1
            numbered.append((self._serial, task))
        return self._pool().submit(_measure_timed_chunk, numbered, self.measure), numbered

    def _wait(self, futures, return_when=FIRST_COMPLETED):
        """Wait for a future, stopping any worker that has spent longer than the limit on one file."""
        while True:
            poll = None if self.time_limit_s is None else min(1.0, max(0.05, self.time_limit_s / 4))
            done, pending = wait(futures, timeout=poll, return_when=return_when)
            if done:
                return done, pending
            self._stop_overdue_workers()

    def _stop_overdue_workers(self) -> None:
        if self.time_limit_s is None or self._clock is None:
            return
        slots, now = self._clock[0], time.monotonic()
        for i in range(self.workers):
            pid, serial, started = slots[i * _SLOT_FIELDS:(i + 1) * _SLOT_FIELDS]
            if started > 0 and now - started > self.time_limit_s and int(serial) not in self._stopped:
                self._stopped.add(int(serial))
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except OSError:
                    pass

    def run(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        task_iter = iter(tasks)
        in_flight: dict[Future, list[tuple[int, FileTask]]] = {}
        limit = self.workers * IN_FLIGHT_PER_WORKER
        while True:
            while len(in_flight) < limit:
                chunk = list(islice(task_iter, CHUNK_FILES))
                if not chunk:
                    break
                try:
                    future, numbered = self._submit(chunk)
                except BrokenProcessPool:
                    future, numbered = _failed_future(), [(0, task) for task in chunk]
                in_flight[future] = numbered
            if not in_flight:
                return
            done, _ = self._wait(in_flight)
            suspects: list[tuple[int, FileTask]] = []
            for future in done:
                chunk = in_flight.pop(future)
                try:
                    yield from future.result()
                except BrokenProcessPool:
                    suspects.extend(chunk)
            if suspects:
                # Every chunk still in flight is lost with the pool: collect what
                # finished, then isolate the rest file by file.
                for future, chunk in list(in_flight.items()):
                    try:
                        yield from future.result()
                    except BrokenProcessPool:
                        suspects.extend(chunk)
                in_flight.clear()
                self._shutdown()
                yield from self._isolate(suspects)

    def _isolate(self, numbered: list[tuple[int, FileTask]]) -> Iterator[FileResult]:
        for serial, task in numbered:
            if serial in self._stopped:   # this file held its worker past the limit: not run again
                yield self._over_time(task)
                continue
            try:
                future, ((serial, _),) = self._submit([task])
                self._wait([future])
                yield from future.result()
            except BrokenProcessPool:
                self._shutdown()
                if serial in self._stopped:
                    yield self._over_time(task)
                    continue
                result = _hash_in_parent(task)
                result.errors.append(FileError(
                    "worker", "worker_crashed",
                    "the worker process died while measuring this file (the decoder crashed or "
                    "ran out of memory); the run went on without it"))
                yield result

    def _over_time(self, task: FileTask) -> FileResult:
        result = _hash_in_parent(task)
        result.errors.append(FileError(
            "worker", "time_limit",
            f"measuring this file took longer than the per-file limit of {self.time_limit_s:g} s "
            f"(--file-time-limit); its worker was stopped and the run went on without it"))
        return result


def _init_timed_worker(known_prefixes: np.ndarray, reader_state: dict | None, clock) -> None:
    """Pool initializer: the measuring set-up, and this worker's slot in the shared clock."""
    global _clock, _slot
    init_worker(known_prefixes, reader_state)
    slots, next_slot = clock
    with next_slot.get_lock():
        _slot, next_slot.value = next_slot.value, next_slot.value + 1
    _clock = slots if _slot * _SLOT_FIELDS < len(slots) else None
    if _clock is not None:
        _clock[_slot * _SLOT_FIELDS] = os.getpid()


def _measure_timed_chunk(numbered: list[tuple[int, FileTask]], measure=measure_chunk) -> list[FileResult]:
    """What a pool worker runs: each file of a chunk, noting in the shared clock which one and since when."""
    results = []
    base = _slot * _SLOT_FIELDS
    for serial, task in numbered:
        if _clock is not None:
            _clock[base + 2] = 0.0
            _clock[base + 1] = serial
            _clock[base + 2] = time.monotonic()
        results.append(measure([task])[0])
        if _clock is not None:
            _clock[base + 2] = 0.0
    return results


def _hash_in_parent(task: FileTask) -> FileResult:
    """Hash a file whose worker died, so the failure is tied to its content and not retried."""
    result = FileResult(task.path)
    if task.data is not None:  # the bytes came with the task (the Spark engine)
        result.content_hash = content_hash(task.data)
        result.size_bytes, result.mtime_ns = len(task.data), task.mtime_ns
        return result
    try:
        data, st = sources.read(task.path)
    except Exception:  # unreadable now too: the failure is still recorded, without a hash
        return result
    result.content_hash = content_hash(data)
    set_stat(result, st)
    return result


def _failed_future() -> Future:
    future: Future = Future()
    future.set_exception(BrokenProcessPool("the pool broke before the task was submitted"))
    return future
