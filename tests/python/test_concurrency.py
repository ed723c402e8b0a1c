"""Two writers at once: one proceeds, the other waits a bounded time, nothing is corrupted.

DuckDB allows one writing process per file. Real extracts and a real ``dbt
build`` run side by side on one warehouse. To hold a writer at a known point
(it has the lock and is mid-run), the test stops it with SIGSTOP and resumes
it with SIGCONT: real signals, no hook in our code. Who holds the lock is read
from /proc/locks, which does not take the lock itself.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from conftest import last_run, query, write_jpeg
from dbt_run import copy_db, copy_project, dbt_command, dbt_env, run_dbt
from image_quality.metrics import all_families

LOCK_WAIT_S = 120  # a bounded wait for a process to take the lock (never a timing assertion)


def lock_holders(db: Path) -> set[int]:
    """PIDs holding a POSIX lock on the database file, from /proc/locks."""
    try:
        st = os.stat(db)
    except FileNotFoundError:
        return set()
    device = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    holders = set()
    with open("/proc/locks") as locks:
        for line in locks:
            fields = line.split()
            if fields[1] == "->":  # a waiter, not a holder
                continue
            if len(fields) >= 6 and fields[5] == device:
                holders.add(int(fields[4]))
    return holders


def wait_until_locked_by(proc: subprocess.Popen, db: Path) -> None:
    deadline = time.monotonic() + LOCK_WAIT_S
    while proc.pid not in lock_holders(db):
        assert proc.poll() is None, f"the process ended (exit {proc.returncode}) before taking the lock"
        assert time.monotonic() < deadline, "the process never took the database lock"
        time.sleep(0.005)


class Stopped:
    continued_at: float | None = None  # wall clock (time.time()) just before SIGCONT


@contextmanager
def stopped(proc: subprocess.Popen):
    """The process (and its workers) stopped with SIGSTOP; always continued on exit."""
    os.killpg(proc.pid, signal.SIGSTOP)
    state = Stopped()
    try:
        yield state
    finally:
        state.continued_at = time.time()
        os.killpg(proc.pid, signal.SIGCONT)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "image_quality.cli", *args]


def start(command: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, env=dict(os.environ, **(env or {})))


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out, err


@pytest.fixture(scope="module")
def many_images(tmp_path_factory, photos):
    """60 distinct phone-sized JPEGs: a run of several seconds."""
    import cv2

    folder = tmp_path_factory.mktemp("concurrency") / "images"
    names = sorted(photos)
    for i in range(60):
        img = photos[names[i % len(names)]][i % 7 * 9:, i % 5 * 13:]
        img = cv2.resize(img, None, fx=1600 / max(img.shape[:2]), fy=1600 / max(img.shape[:2]))
        write_jpeg(folder / f"img_{i:03d}.jpg", img)
    return folder


def assert_whole(db: Path, images: int) -> None:
    for family in all_families():
        assert query(db, f"select count(*), count(distinct content_hash) from raw.{family.table}") == \
            [(images, images)], family.table
    assert query(db, "select count(*), count(distinct path) from raw.files where valid_to_run is null") == \
        [(images, images)]
    assert query(db, "select count(*) from raw.load_runs where status <> 'succeeded'") == [(0,)]


# --- two extracts ---------------------------------------------------------------------------


@pytest.mark.slow
def test_two_extracts_at_once_both_succeed_one_after_the_other(tmp_path, many_images):
    db = tmp_path / "w.duckdb"
    first = start(cli("extract", str(many_images), "--db", str(db), "--workers", "1", "--quiet"))
    second = start(cli("extract", str(many_images), "--db", str(db), "--workers", "1", "--quiet"))
    results = [finish(first), finish(second)]
    assert [code for code, _, _ in results] == [0, 0], results
    runs = query(db, "select status, images_decoded, files_unchanged from raw.load_runs order by run_id")
    # the one that waited started after the other had committed everything: it had nothing to do
    assert runs == [("succeeded", 60, 0), ("succeeded", 0, 60)]
    assert_whole(db, 60)


@pytest.mark.slow
def test_an_extract_waits_for_another_then_stops_with_one_line(tmp_path, many_images):
    db = tmp_path / "w.duckdb"
    first = start(cli("extract", str(many_images), "--db", str(db), "--workers", "2", "--batch-files", "5"))
    try:
        wait_until_locked_by(first, db)
        with stopped(first):  # mid-run, holding the lock
            code, out, err = finish(start(cli("extract", str(many_images), "--db", str(db),
                                              "--lock-timeout", "1")))
        assert code == 1
        assert err.strip().count("\n") == 0 and "is in use by another process" in err, err
        assert "stayed locked for 1 s" in err
    finally:
        code_first, _, err_first = finish(first)
    assert code_first == 0, err_first
    assert query(db, "select count(*) from raw.load_runs") == [(1,)]  # the one that gave up left no trace
    assert_whole(db, 60)


# --- an extract and dbt build ------------------------------------------------------------------

HOLD_S = 3.0  # how long dbt stays stopped while an extract starts and finds the lock taken
DBT_WAITING_S = 15.0  # an extract held this long: dbt has parsed and is between connect attempts


@pytest.fixture(scope="module")
def dbt_project(tmp_path_factory) -> Path:
    return copy_project(tmp_path_factory.mktemp("dbt") / "project")


@pytest.fixture(scope="module")
def scored(tmp_path_factory, dbt_project, many_images) -> Path:
    """A warehouse extracted from real photographs and built once by dbt."""
    db = tmp_path_factory.mktemp("scored") / "w.duckdb"
    done = subprocess.run(cli("extract", str(many_images), "--db", str(db), "--quiet"), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    code, output = run_dbt(dbt_project, db, "build")
    assert code == 0, output[-5000:]
    return db


def more_images(folder: Path, photos, n: int = 3) -> Path:
    for i in range(n):
        write_jpeg(folder / f"new_{i}.jpg", photos["flower"][i * 30:, i * 40:])
    return folder


@pytest.mark.slow
def test_an_extract_during_dbt_build_waits_or_gives_up(tmp_path, dbt_project, scored, photos):
    """While dbt holds the warehouse: a short --lock-timeout gives up in one line, a long one waits."""
    db = copy_db(scored, tmp_path / "w.duckdb")
    runs_before = query(db, "select count(*) from raw.load_runs")[0][0]
    new = more_images(tmp_path / "new", photos)
    build = start(dbt_command(dbt_project, "build"), env=dbt_env(db))
    try:
        wait_until_locked_by(build, db)
        with stopped(build) as hold:  # dbt is mid-build, holding the lock
            code, _, err = finish(start(cli("extract", str(new), "--db", str(db), "--lock-timeout", "1")))
            waiting = start(cli("extract", str(new), "--db", str(db), "--lock-timeout", "300"))
            time.sleep(HOLD_S)
            assert waiting.poll() is None  # it cannot have finished: it is waiting for the lock
    finally:
        build_code, build_out, build_err = finish(build)
    assert code == 1
    assert err.strip().count("\n") == 0 and "in use by another process (an extract or dbt run)" in err, err
    assert build_code == 0, (build_out + build_err)[-5000:]
    waited_code, _, waited_err = finish(waiting)
    assert waited_code == 0, waited_err
    # one run only (the one that gave up left no trace), and it began after dbt was let go on
    assert query(db, "select count(*) from raw.load_runs")[0][0] == runs_before + 1
    started = query(db, "select epoch(started_at) from raw.load_runs order by run_id desc limit 1")[0][0]
    assert started >= hold.continued_at
    assert (last_run(db)["status"], last_run(db)["paths_added"]) == ("succeeded", 3)
    # and the warehouse is whole: the next build passes every test and scores the new images
    code, output = run_dbt(dbt_project, db, "build")
    assert code == 0, output[-5000:]
    assert query(db, "select count(*) from marts.image_quality") == [(63,)]


@pytest.mark.slow
def test_dbt_build_during_an_extract_waits_or_gives_up(tmp_path, dbt_project, scored, photos):
    """While an extract holds the warehouse, dbt waits (profiles.yml's connect retries), a bounded time."""
    db = copy_db(scored, tmp_path / "w.duckdb")
    extract_cmd = ["--db", str(db), "--workers", "2", "--batch-files", "2"]
    # held longer than dbt waits (two attempts: at 0 and 1 s): dbt gives up with DuckDB's lock error
    extract = start(cli("extract", str(more_images(tmp_path / "new", photos, n=12)), *extract_cmd))
    try:
        wait_until_locked_by(extract, db)
        with stopped(extract):
            code, output = run_dbt(dbt_project, db, "build", env={"IMAGE_QUALITY_DBT_CONNECT_ATTEMPTS": "2"})
    finally:
        extract_code, _, extract_err = finish(extract)
    assert code != 0 and "could not set lock" in output.lower(), output[-3000:]
    assert extract_code == 0, extract_err
    assert last_run(db)["status"] == "succeeded"

    # an extract that lets go within dbt's wait: dbt, started while the lock was held, waits and builds
    extract = start(cli("extract", str(more_images(tmp_path / "newer", photos, n=3)), *extract_cmd))
    try:
        wait_until_locked_by(extract, db)
        with stopped(extract):
            build = start(dbt_command(dbt_project, "build"), env=dbt_env(db))
            time.sleep(DBT_WAITING_S)  # dbt parses (a few seconds), then finds the file locked and waits
            assert build.poll() is None, "dbt ended while the extract held the lock"
    finally:
        extract_code, _, extract_err = finish(extract)
        build_code, build_out, build_err = finish(build)
    assert extract_code == 0, extract_err
    assert build_code == 0, (build_out + build_err)[-5000:]
    # dbt connected after the extract finished: it scored both extracts' images, and every test passed
    assert query(db, "select count(*) from marts.image_quality") == [(75,)]
