"""image-quality watch, as a user runs it: a long-running process, files dropped in, real dbt builds.

Every wait is bounded (WAIT_S) and polls for an outcome, never for a time.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import duckdb
import pytest

from conftest import query, write_jpeg
from dbt_run import copy_project
from image_quality.metrics import all_families
from s3_server import bucket, distinct_jpegs, jpeg_bytes, s3_server, sha256  # noqa: F401  (fixtures)

pytestmark = pytest.mark.slow

WAIT_S = 600   # a dbt build takes 20-40 s on a busy 2-core machine; this only bounds a hang


class WatchProcess:
    def __init__(self, tmp_path: Path, *args: str, env: dict | None = None):
        self.log_path = tmp_path / f"watch-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "image_quality.cli", "watch", *args],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True,
            env=dict(os.environ, **(env or {})))

    def lines(self) -> list[str]:
        return self.log_path.read_text().splitlines()

    def wait_for(self, pattern: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            for line in self.lines():
                if re.search(pattern, line):
                    return line
            assert self.proc.poll() is None, f"watch ended (exit {self.proc.returncode}):\n" + "\n".join(self.lines())
            time.sleep(0.2)
        raise AssertionError(f"no line matching {pattern!r} within {WAIT_S} s:\n" + "\n".join(self.lines()))

    def stop(self, sig=signal.SIGTERM) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=WAIT_S)
        finally:
            self._log.close()

    def kill(self) -> None:
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        self._log.close()

    def close(self) -> None:
        if self.proc.poll() is None:
            self.kill()


def drop(folder: Path, name: str, data: bytes) -> None:
    """Write beside the folder, then rename in: the file appears whole, as an upload tool does it."""
    staging = folder.parent / (".staging-" + name)
    staging.write_bytes(data)
    os.rename(staging, folder / name)


def read_only(db) -> duckdb.DuckDBPyConnection:
    return duckdb.connect(str(db), read_only=True)


def grandchildren(pid: int) -> set[int]:
    """Processes two levels below ``pid``: the workers the watch's worker server forked."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            parents[int(entry)] = int(stat.rsplit(")", 1)[1].split()[1])
    children = {p for p, parent in parents.items() if parent == pid}
    return {p for p, parent in parents.items() if parent in children}


@pytest.fixture
def project(tmp_path):
    return copy_project(tmp_path / "project")


def watch_args(source, db, project, *extra):
    return (str(source), "--db", str(db), "--project-dir", str(project), "--workers", "1",
            "--debounce", "0.5", "--interval", "1", *extra)


def test_files_dropped_into_a_watched_folder_are_scored_and_the_warehouse_stays_readable(tmp_path, project, photos):
    folder = tmp_path / "uploads"
    images = distinct_jpegs(photos, 3, size=320)
    folder.mkdir()
    drop(folder, "first.jpg", images[0])
    db = tmp_path / "w.duckdb"
    watch = WatchProcess(tmp_path, *watch_args(folder, db, project))
    try:
        watch.wait_for(r"^\S+ cycle 1: run 1: 1 added.*dbt build ok")
        # Between cycles anyone can open the warehouse.
        with read_only(db) as con:
            assert con.execute("select count(*) from marts.image_quality").fetchone() == (1,)

        # A writer holds the warehouse: the watch waits, says so, and tries again.
        blocker = duckdb.connect(str(db))
        try:
            drop(folder, "second.jpg", images[1])
            drop(folder, "nested-and-new.JPG", images[2])
            (folder / "sub").mkdir()
            drop(folder / "sub", "broken.jpg", b"this is not an image")
            watch.wait_for(r"cycle 2: extract could not start \(database .* in use")
        finally:
            blocker.close()
        line = watch.wait_for(r"cycle 3: run \d+: 3 added, 0 changed, 0 removed, 1 failed")
        assert "dbt build ok" in line

        with read_only(db) as con:
            scored = dict(con.execute("select path, quality_label from marts.image_quality").fetchall())
            errors = con.execute("select path, error_kind from raw.extract_errors").fetchall()
        good = {str(folder / n) for n in ("first.jpg", "second.jpg", "nested-and-new.JPG")}
        assert good <= set(scored) and all(scored[p] is not None for p in good)
        assert errors == [(str(folder / "sub" / "broken.jpg"), "not_an_image")]

        # A removal is a change too.
        (folder / "second.jpg").unlink()
        watch.wait_for(r"cycle 4: run \d+: 0 added, 0 changed, 1 removed")
        assert watch.stop() == 0
    finally:
        watch.close()
    assert re.search(r"stopped after 4 cycles$", watch.lines()[-1])
    assert sum(" cycle " in line for line in watch.lines()) == 4, "one line per cycle"


def test_an_s3_prefix_is_polled_and_a_failing_dbt_build_does_not_stop_the_watch(
        tmp_path, project, s3_server, bucket, photos):
    (project / "models" / "marts" / "broken_on_purpose.sql").write_text("select * from no_such_table\n")
    first, second = distinct_jpegs(photos, 2)
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="in/one.jpg", Body=first)
    db = tmp_path / "w.duckdb"
    watch = WatchProcess(tmp_path, *watch_args(f"s3://{bucket}/in", db, project), env=s3_server.env())
    try:
        assert "dbt build FAILED" in watch.wait_for(r"cycle 1: run 1: 1 added")
        client.put_object(Bucket=bucket, Key="in/two.jpg", Body=second)
        assert "dbt build FAILED" in watch.wait_for(r"cycle 2: run 2: 1 added")
        assert query(db, "select path, content_hash from raw.files order by path") == [
            (f"s3://{bucket}/in/one.jpg", sha256(first)), (f"s3://{bucket}/in/two.jpg", sha256(second))]
        assert watch.stop(signal.SIGINT) == 0
    finally:
        watch.close()
    assert watch.lines()[-1].endswith("stopped after 2 cycles")


def test_a_crash_mid_cycle_leaves_nothing_partial_and_the_next_watch_resumes(tmp_path, project, photos):
    folder = tmp_path / "uploads"
    rng = random.Random(3)
    names = sorted(photos)
    for i in range(40):
        img = photos[names[i % len(names)]]
        h, w = img.shape[:2]
        y, x = rng.randrange(h // 4), rng.randrange(w // 4)
        crop = cv2.resize(img[y:y + h * 3 // 4, x:x + w * 3 // 4], None, fx=3, fy=3, interpolation=cv2.INTER_LINEAR)
        write_jpeg(folder / f"img_{i:02d}.jpg", crop, quality=rng.randrange(75, 95))
    db = tmp_path / "w.duckdb"
    args = watch_args(folder, db, project, "--batch-files", "2")
    watch = WatchProcess(tmp_path, *args)
    try:
        deadline = time.monotonic() + WAIT_S
        while not grandchildren(watch.proc.pid):   # a worker exists: files are being measured
            assert time.monotonic() < deadline and watch.proc.poll() is None
            time.sleep(0.05)
        time.sleep(1.0)
        watch.kill()   # the watch, its worker server and its workers, mid-cycle
    finally:
        watch.close()

    # Whatever the kill cut, the warehouse opens, and each path it records has every family's row.
    families = all_families()
    with read_only(db) as con:
        runs = con.execute("select run_id, status from raw.load_runs").fetchall()
        assert runs == [(1, "running")], "the kill landed mid-extract"
        recorded = [h for (h,) in con.execute("select content_hash from raw.files").fetchall()]
        for family in families:
            measured = {h for (h,) in con.execute(
                f"select content_hash from raw.{family.table} where metric_version = ?", [family.version]).fetchall()}
            assert set(recorded) <= measured, family.name
    assert len(recorded) < 40

    again = WatchProcess(tmp_path, *args)
    try:
        again.wait_for(r"cycle 1: run 2: \d+ added.*dbt build ok")
        assert again.stop() == 0
    finally:
        again.close()
    assert query(db, "select run_id, status from raw.load_runs order by run_id") == [(1, "failed"), (2, "succeeded")]
    scored = query(db, "select path from marts.image_quality where quality_label is not null")
    assert {p for (p,) in scored} == {str(folder / f"img_{i:02d}.jpg") for i in range(40)}


def test_a_watch_that_cannot_start_is_one_line_and_exit_1(tmp_path, project):
    from conftest import run_cli

    missing = run_cli("watch", str(tmp_path / "nowhere"), "--db", str(tmp_path / "w.duckdb"),
                      "--project-dir", str(project))
    assert missing.returncode == 1 and missing.stderr.count("\n") == 1 and "does not exist" in missing.stderr
    folder = tmp_path / "here"
    folder.mkdir()
    no_db_folder = run_cli("watch", str(folder), "--db", str(tmp_path / "no" / "w.duckdb"),
                           "--project-dir", str(project))
    assert no_db_folder.returncode == 1 and no_db_folder.stderr.count("\n") == 1
    assert "cannot open database" in no_db_folder.stderr


def test_a_poison_png_beside_good_files_costs_that_file_only(tmp_path, project, photos):
    """Issue 18, case 1 under watch: a PNG whose acTL claims 2^31 - 1 frames failed every cycle."""
    from test_one_file_costs_one_file import png_claiming_frames

    folder = tmp_path / "uploads"
    folder.mkdir()
    images = distinct_jpegs(photos, 4, size=320)
    for i, data in enumerate(images[:3]):
        drop(folder, f"good_{i}.jpg", data)
    drop(folder, "poison.png", png_claiming_frames(2**31 - 1))
    db = tmp_path / "w.duckdb"
    watch = WatchProcess(tmp_path, *watch_args(folder, db, project))
    try:
        assert "dbt build ok" in watch.wait_for(r"cycle 1: run 1: 4 added, 0 changed, 0 removed, 1 failed")
        drop(folder, "good_3.jpg", images[3])   # and the next change is a cycle like any other
        assert "dbt build ok" in watch.wait_for(r"cycle 2: run 2: 1 added, 0 changed, 0 removed, 0 failed")
        assert watch.stop() == 0
    finally:
        watch.close()
    scored = dict(query(db, "select path, quality_label from marts.image_quality"))
    good = {str(folder / f"good_{i}.jpg") for i in range(4)}
    assert good <= set(scored) and all(scored[p] is not None for p in good)
    assert query(db, "select path, error_kind from raw.extract_errors") == [(str(folder / "poison.png"), "bad_header")]


def test_a_watched_folder_deleted_and_made_again_is_still_watched(tmp_path, project, photos):
    folder = tmp_path / "uploads"
    folder.mkdir()
    images = distinct_jpegs(photos, 6, size=320)
    drop(folder, "first.jpg", images[0])
    db = tmp_path / "w.duckdb"
    watch = WatchProcess(tmp_path, *watch_args(folder, db, project))
    try:
        watch.wait_for(r"cycle 1: run 1: 1 added")
        shutil.rmtree(folder)
        folder.mkdir()
        time.sleep(1.5)   # the copy comes after the folder is back, as a user's would
        for i, data in enumerate(images[1:]):
            drop(folder, f"copied_{i}.jpg", data)
        watch.wait_for(r"run \d+: 5 added, 0 changed, 1 removed|run \d+: 5 added, 0 changed, 0 removed")
        assert watch.stop() == 0
    finally:
        watch.close()
    current = {p for (p,) in query(db, "select path from raw.files where valid_to_run is null")}
    assert current == {str(folder / f"copied_{i}.jpg") for i in range(5)}


def test_changes_under_a_symlinked_subfolder_start_a_cycle(tmp_path, project, photos):
    folder, elsewhere = tmp_path / "uploads", tmp_path / "elsewhere"
    folder.mkdir()
    elsewhere.mkdir()
    images = distinct_jpegs(photos, 3, size=320)
    drop(folder, "first.jpg", images[0])
    os.symlink(elsewhere, folder / "linked")
    db = tmp_path / "w.duckdb"
    watch = WatchProcess(tmp_path, *watch_args(folder, db, project))
    try:
        watch.wait_for(r"cycle 1: run 1: 1 added")
        drop(elsewhere, "through_the_link.jpg", images[1])
        watch.wait_for(r"cycle 2: run 2: 1 added")
        # a link made while watching is followed too, from the cycle its creation starts
        later = tmp_path / "later"
        later.mkdir()
        os.symlink(later, folder / "linked_later")
        watch.wait_for(r"cycle 3: run 3: 0 added")
        drop(later, "through_the_new_link.jpg", images[2])
        watch.wait_for(r"cycle 4: run 4: 1 added")
        assert watch.stop() == 0
    finally:
        watch.close()
    current = {p for (p,) in query(db, "select path from raw.files where valid_to_run is null")}
    assert current == {str(folder / "first.jpg"), str(folder / "linked" / "through_the_link.jpg"),
                       str(folder / "linked_later" / "through_the_new_link.jpg")}
