"""Running a contender as a subprocess: wall time and peak memory of its whole process tree.

Memory is the peak of the summed resident set size (VmRSS) of every process in
the contender's session, sampled every 20 ms from /proc: a pool's workers and a
Makefile's short-lived scripts are counted together, as the machine sees them.
"""

from __future__ import annotations

import os
import platform
import statistics
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class Measurement:
    name: str
    images: int
    walls: list[float] = field(default_factory=list)
    peak_rss_mb: float = 0.0
    note: str = ""

    @property
    def wall(self) -> float:
        return statistics.median(self.walls)

    @property
    def per_image_s(self) -> float:
        return self.wall / self.images

    @property
    def images_per_s(self) -> float:
        return self.images / self.wall


def _session_rss_kb(session: int) -> int:
    total = 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            # fields after the command name: state ppid pgrp session ...
            fields = stat[stat.rfind(b")") + 2:].split()
            if int(fields[3]) != session:
                continue
            with open(f"/proc/{entry.name}/status", "rb") as f:
                for line in f:
                    if line.startswith(b"VmRSS:"):
                        total += int(line.split()[1])
                        break
        except (OSError, IndexError, ValueError):
            continue
    return total


def run_measured(command: list[str], *, env: dict | None = None, cwd: str | None = None,
                 timeout: float = 3600) -> tuple[float, float]:
    """(wall seconds, peak RSS MB) of one run; raises if the command fails."""
    started = time.perf_counter()
    proc = subprocess.Popen(command, env=env, cwd=cwd, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peak = 0
    stop = threading.Event()

    def sample():
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, _session_rss_kb(proc.pid))
            stop.wait(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        _, stderr = proc.communicate(timeout=timeout)
    finally:
        wall = time.perf_counter() - started
        stop.set()
        sampler.join()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:4])}... failed ({proc.returncode}): {stderr.decode()[-2000:]}")
    return wall, peak / 1024


def measure(name: str, images: int, command: list[str], repeat: int, *, before=None, **kw) -> Measurement:
    """Run ``command`` ``repeat`` times (``before()`` resets state between runs)."""
    m = Measurement(name, images)
    for _ in range(repeat):
        if before:
            before()
        wall, rss = run_measured(command, **kw)
        m.walls.append(wall)
        m.peak_rss_mb = max(m.peak_rss_mb, rss)
    return m


def machine_description() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    import cv2
    import duckdb
    import numpy

    return (f"{model}, {os.cpu_count()} cores, {mem_gb:.0f} GiB; {platform.system()} {platform.release()}; "
            f"Python {platform.python_version()}, numpy {numpy.__version__}, OpenCV {cv2.__version__}, "
            f"DuckDB {duckdb.__version__}")
