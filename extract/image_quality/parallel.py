"""A process pool over files that survives a worker dying mid-image.

Files go to workers in small chunks, with a bounded number of chunks in flight
so memory stays flat however many files a run has. If a worker process dies (a
decoder crashing on hostile bytes, the kernel's OOM killer), Python's pool is
broken for every task in flight: those files are retried one at a time in a
fresh pool, and a file that kills its worker on its own is reported as
``worker_crashed``, while the run goes on.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Iterable, Iterator

import numpy as np

from . import sources
from .measuring import FileError, FileResult, FileTask, content_hash, init_worker, measure_chunk, set_stat

CHUNK_FILES = 4           # files per round trip to a worker
IN_FLIGHT_PER_WORKER = 3  # chunks queued per worker: enough to keep it busy, few enough to bound memory


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

    def __init__(self, workers: int, known_prefixes: np.ndarray, measure=measure_chunk):
        self.workers = max(1, workers)
        self.known_prefixes = known_prefixes
        self.measure = measure  # what a worker runs on a chunk of FileTasks (a module-level function)
        self._executor: ProcessPoolExecutor | None = None

    def __enter__(self) -> "MeasuringPool":
        return self

    def __exit__(self, *exc) -> None:
        self._shutdown()

    def _pool(self) -> ProcessPoolExecutor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=_context(),
                initializer=init_worker, initargs=(self.known_prefixes, sources.reader_state()))
        return self._executor

    def _shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    def run(self, tasks: Iterable[FileTask]) -> Iterator[FileResult]:
        task_iter = iter(tasks)
        in_flight: dict[Future, list[FileTask]] = {}
        limit = self.workers * IN_FLIGHT_PER_WORKER
        while True:
            while len(in_flight) < limit:
                chunk = list(islice(task_iter, CHUNK_FILES))
                if not chunk:
                    break
                try:
                    in_flight[self._pool().submit(self.measure, chunk)] = chunk
                except BrokenProcessPool:
                    in_flight[_failed_future()] = chunk
            if not in_flight:
                return
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            suspects: list[FileTask] = []
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

    def _isolate(self, tasks: list[FileTask]) -> Iterator[FileResult]:
        for task in tasks:
            try:
                yield from self._pool().submit(self.measure, [task]).result()
            except BrokenProcessPool:
                self._shutdown()
                result = _hash_in_parent(task)
                result.errors.append(FileError(
                    "worker", "worker_crashed",
                    "the worker process died while measuring this file (the decoder crashed or "
                    "ran out of memory); the run went on without it"))
                yield result


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
