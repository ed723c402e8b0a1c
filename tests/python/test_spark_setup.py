"""`--engine spark` that cannot start says why in one line: no Java 17, a missing source.

These start no Spark session (the Java check comes first), so they run
without the spark extra too.
"""

from __future__ import annotations

import stat
from pathlib import Path

from conftest import run_cli


def fake_java(home: Path, version_line: str) -> Path:
    """A JAVA_HOME whose java prints ``version_line`` for -version, as a real one does (on stderr)."""
    java = home / "bin" / "java"
    java.parent.mkdir(parents=True)
    java.write_text(f"#!/bin/sh\necho '{version_line}' >&2\n")
    java.chmod(java.stat().st_mode | stat.S_IXUSR)
    return home


def one_line_error(result) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_java_11_is_refused_in_one_line(tmp_path, image_folder):
    home = fake_java(tmp_path / "jdk11", 'openjdk version "11.0.22" 2024-01-16')
    result = run_cli("extract", str(image_folder), "--engine", "spark", env={"JAVA_HOME": str(home)})
    line = one_line_error(result)
    assert "needs Java 17 or newer" in line and "Java 11" in line


def test_java_8_version_scheme_is_read_as_8(tmp_path, image_folder):
    home = fake_java(tmp_path / "jdk8", 'java version "1.8.0_402"')
    line = one_line_error(run_cli("extract", str(image_folder), "--engine", "spark", env={"JAVA_HOME": str(home)}))
    assert "Java 8" in line


def test_no_java_at_all_says_what_to_install(tmp_path, image_folder):
    env = {"JAVA_HOME": str(tmp_path / "nowhere"), "PATH": str(tmp_path / "empty-bin")}
    result = run_cli("extract", str(image_folder), "--engine", "spark", env=env)
    line = one_line_error(result)
    assert "found none" in line and "JAVA_HOME" in line


def test_a_missing_source_stops_before_spark_starts(tmp_path):
    result = run_cli("extract", str(tmp_path / "missing"), "--engine", "spark", cwd=tmp_path)
    assert "does not exist" in one_line_error(result)
    assert not (tmp_path / "spark-warehouse").exists()  # no session, no warehouse
