"""The command line: one-line errors, exit codes, quiet output, the runs list, one writer."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import duckdb
import pytest

from conftest import REPO, last_run, run_cli


def test_help_answers_without_heavy_imports():
    code = ("import sys, image_quality.cli as c\n"
            "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('duckdb', 'cv2', 'sklearn', 'dbt') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_missing_source_exits_1_with_one_line(tmp_path):
    result = run_cli("extract", str(tmp_path / "nowhere"), "--db", str(tmp_path / "w.duckdb"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0
    assert "does not exist" in result.stderr
    assert not (tmp_path / "w.duckdb").exists()


def test_unwritable_database_exits_1_with_one_line(tmp_path, image_folder):
    result = run_cli("extract", str(image_folder), "--db", str(tmp_path / "no" / "such" / "dir" / "w.duckdb"))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and "cannot open database" in result.stderr


def test_db_from_environment_and_quiet(tmp_path, image_folder):
    db = tmp_path / "env.duckdb"
    result = run_cli("extract", str(image_folder), "--quiet", env={"IMAGE_QUALITY_DB": str(db)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""
    assert last_run(db)["status"] == "succeeded"


def test_default_db_is_in_the_working_directory(tmp_path, image_folder):
    env = {k: v for k, v in os.environ.items() if k != "IMAGE_QUALITY_DB"}
    result = subprocess.run([sys.executable, "-m", "image_quality.cli", "extract", str(image_folder)],
                            cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "warehouse.duckdb").exists()


def test_summary_and_runs_listing(tmp_path, image_folder):
    db = str(tmp_path / "w.duckdb")
    first = run_cli("extract", str(image_folder), "--db", db)
    assert first.returncode == 0
    assert "files scanned 8" in first.stdout and "new content 8" in first.stdout
    assert "measuring" not in first.stderr  # no progress bar when not on a terminal
    run_cli("extract", str(image_folder), "--db", db)
    listing = run_cli("runs", "--db", db)
    assert listing.returncode == 0
    lines = listing.stdout.strip().splitlines()
    assert lines[0].split()[:3] == ["run", "status", "started"]
    assert [line.split()[0] for line in lines[1:]] == ["2", "1"]
    assert all(" succeeded " in line for line in lines[1:])


def test_second_writer_waits_then_stops_clearly(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); time.sleep(60)",
         str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        result = run_cli("extract", str(image_folder), "--db", str(db), "--lock-timeout", "2")
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert "in use by another process" in result.stderr and result.stderr.strip().count("\n") == 0
    assert waited >= 2  # it did wait before giving up
    # the file is intact and the next extract works
    assert run_cli("extract", str(image_folder), "--db", str(db)).returncode == 0
    assert last_run(db)["status"] == "succeeded"


def test_an_analysts_read_only_connection_is_named_as_what_blocks_the_extract(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    assert run_cli("extract", str(image_folder), "--db", str(db)).returncode == 0
    analyst = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1], read_only=True); print('reading', flush=True); "
         "time.sleep(60)", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert analyst.stdout.readline().strip() == "reading"
        result = run_cli("extract", str(image_folder), "--db", str(db), "--lock-timeout", "1")
    finally:
        analyst.kill()
        analyst.wait()
    assert result.returncode == 1 and result.stderr.strip().count("\n") == 0, result.stderr
    assert f"is open read-only in another process (PID {analyst.pid}:" in result.stderr
    assert "an extract or dbt run" not in result.stderr


def test_second_writer_proceeds_when_the_first_finishes(tmp_path, image_folder):
    db = tmp_path / "w.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('locked', flush=True); "
         "time.sleep(1.5); c.close()", str(db)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        result = run_cli("extract", str(image_folder), "--db", str(db), "--lock-timeout", "30")
    finally:
        holder.wait()
    assert result.returncode == 0, result.stderr
