"""kill -9 at random moments: the warehouse stays whole and a re-run finishes the job.

Real processes, real signals: the extract (with its worker pool, in its own
process group) is killed with SIGKILL at a random instant, again and again.
After every kill the database must open, hold no duplicate key, and the killed
run's committed counters must match the rows it committed (a batch is all or
nothing). The next run marks the dead one failed. A final run must leave the
same tables as one uninterrupted run.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import cv2
import pytest

from conftest import query, write_jpeg
from image_quality.metrics import all_families

pytestmark = pytest.mark.slow

# 20 kills, in every phase of a run (start-up, walk, reads, batches, close): about 45 s on 2 cores.
TRIALS = int(os.environ.get("IMAGE_QUALITY_CRASH_TRIALS", "20"))


@pytest.fixture(scope="module")
def crash_images(tmp_path_factory, photos):
    """160 distinct phone-sized JPEGs (crops of real photographs, 1600-2200 px): seconds of work."""
    folder = tmp_path_factory.mktemp("crash") / "images"
    rng = random.Random(7)
    names = sorted(photos)
    for i in range(160):
        img = photos[names[i % len(names)]]
        h, w = img.shape[:2]
        y, x = rng.randrange(h // 4), rng.randrange(w // 4)
        crop = img[y:y + h * 3 // 4, x:x + w * 3 // 4]
        scale = rng.uniform(1600, 2200) / max(crop.shape[:2])
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
        write_jpeg(folder / f"d{i % 4}" / f"img_{i:03d}.jpg", crop, quality=rng.randrange(70, 96))
    return folder


def start_extract(folder, db) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "image_quality.cli", "extract", str(folder), "--db", str(db),
         "--batch-files", "3", "--workers", "2", "--quiet"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


def snapshot(db) -> dict:
    tables = {}
    for family in all_families():
        cols = ", ".join(family.columns)
        tables[family.table] = query(db, f"select content_hash, metric_version, {cols} "
                                         f"from raw.{family.table} order by all")
    tables["open_paths"] = query(db, "select path, content_hash, size_bytes from raw.files "
                                     "where valid_to_run is null order by path")
    tables["errors"] = query(db, "select path, error_kind from raw.extract_errors order by all")
    return tables


def assert_consistent(db):
    for family in all_families():
        dupes = query(db, f"select content_hash, metric_version from raw.{family.table} "
                          "group by all having count(*) > 1")
        assert dupes == [], family.table
    assert query(db, "select path from raw.files where valid_to_run is null "
                     "group by path having count(*) > 1") == []
    # counters are committed with their rows: a run's paths_added equals the rows it opened
    mismatched = query(db, """
        select r.run_id, r.paths_added, count(f.path)
          from raw.load_runs r left join raw.files f on f.valid_from_run = r.run_id
         group by r.run_id, r.paths_added
        having coalesce(r.paths_added, 0) <> count(f.path)""")
    assert mismatched == []


def test_kill_9_at_random_moments_then_resume(tmp_path, crash_images):
    reference = tmp_path / "reference.duckdb"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "image_quality.cli", "extract", str(crash_images),
                           "--db", str(reference), "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    # Kill moments scale with how long a whole run takes on this machine right now, so
    # they land in every phase of a run on a fast machine and on a loaded one alike. Start-up
    # (imports, the forkserver) is a fixed second or two and the images' share of a run
    # shrinks as measuring gets cheaper, so moments reach 60% of a run: past start-up, into
    # the batches.
    whole_run_s = time.monotonic() - started

    db = tmp_path / "crashed.duckdb"
    rng = random.Random(2024)
    killed_mid_run = 0
    for trial in range(TRIALS):
        proc = start_extract(crash_images, db)
        try:
            proc.wait(timeout=rng.uniform(0.05, 0.6) * whole_run_s)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if proc.returncode == -signal.SIGKILL:
            killed_mid_run += 1
        if db.exists():
            assert_consistent(db)
    assert killed_mid_run >= min(3, TRIALS), "the kills should land while the run works"
    # some killed run had committed batches before it died: a real mid-run kill
    assert query(db, "select count(*) from raw.load_runs where paths_added > 0 and status <> 'succeeded'")[0][0] >= 1

    final = subprocess.run([sys.executable, "-m", "image_quality.cli", "extract", str(crash_images),
                            "--db", str(db)], capture_output=True, text=True)
    assert final.returncode == 0, final.stderr
    assert_consistent(db)
    statuses = query(db, "select status, count(*) from raw.load_runs group by all order by all")
    assert ("running", 1) not in statuses and dict(statuses).get("succeeded", 0) >= 1
    assert query(db, "select count(*) from raw.load_runs where status = 'failed' "
                     "and message like 'interrupted%'")[0][0] >= 1
    assert snapshot(db) == snapshot(reference)
