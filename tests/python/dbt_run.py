"""Running the real dbt project from tests: in a copy, so target/ and logs/ stay out of the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PROJECT_FILES = ("dbt_project.yml", "profiles.yml")
PROJECT_DIRS = ("models", "macros", "seeds", "tests", "analyses")
DBT_TIMEOUT_S = 600


def copy_project(dest: Path) -> Path:
    """A copy of the dbt project (without the Python tests) in ``dest``; skips if there is none."""
    if not (REPO / "dbt_project.yml").exists():
        pytest.skip("the dbt project is not in this checkout")
    dest.mkdir(parents=True, exist_ok=True)
    for name in PROJECT_FILES:
        shutil.copy2(REPO / name, dest / name)
    for name in PROJECT_DIRS:
        if (REPO / name).exists():
            shutil.copytree(REPO / name, dest / name, ignore=shutil.ignore_patterns("python", "__pycache__"))
    return dest


def dbt_command(project: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "dbt.cli.main", *args, "--project-dir", str(project),
            "--profiles-dir", str(project), "--target-path", str(project / "target"),
            "--log-path", str(project / "logs")]


def dbt_env(db: Path) -> dict[str, str]:
    return {"IMAGE_QUALITY_DB": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}


def run_dbt(project: Path, db: Path, *args: str, env: dict[str, str] | None = None,
            timeout: float = DBT_TIMEOUT_S) -> tuple[int, str]:
    """(exit code, output) of one dbt command against ``db`` (``env``: more environment variables)."""
    done = subprocess.run(dbt_command(project, *args), env=dict(os.environ, **dbt_env(db), **(env or {})),
                          capture_output=True, text=True, timeout=timeout)
    return done.returncode, done.stdout + done.stderr


def copy_db(src: Path, dest: Path) -> Path:
    shutil.copy2(src, dest)
    if Path(f"{src}.wal").exists():
        shutil.copy2(f"{src}.wal", f"{dest}.wal")
    return dest
