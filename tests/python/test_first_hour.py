"""The first hour of a new user (issue 17): `make demo`'s command, then the README's commands, in a new shell.

A copy of the repository's dbt project stands in for a fresh clone (its `.venv` a
link to this checkout's). `image-quality demo` runs there with no flag and no
variable, as `make demo` runs it; then the README's command-line block is pasted
into a new bash, and the three commands the issue names run bare. Nothing is
mocked: the real CLI, DuckDB, dbt and the report.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO
from dbt_run import copy_project

pytestmark = pytest.mark.slow

VENV = Path(sys.executable).parent.parent   # the environment running the tests: the clone's .venv


def _clean_env() -> dict[str, str]:
    """A new shell's environment: no IMAGE_QUALITY_* variable, no venv on PATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IMAGE_QUALITY_", "VIRTUAL_ENV", "PYTEST"))}
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                  if Path(p).resolve() != (VENV / "bin").resolve())
    env["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    return env


def readme_command_line_block() -> str:
    text = (REPO / "README.md").read_text()
    section = text[text.index("## The command line"):]
    return re.search(r"```sh\n(.*?)```", section, re.S).group(1)


@pytest.fixture(scope="module")
def clone(tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    root = copy_project(tmp_path_factory.mktemp("first_hour") / "clone")
    (root / ".venv").symlink_to(VENV)
    demo = subprocess.run([str(root / ".venv" / "bin" / "image-quality"), "demo", "demo_images"], cwd=root,
                          env=_clean_env(), capture_output=True, text=True, timeout=1200)
    return root, demo


def test_the_demo_ends_with_a_short_readable_result(clone):
    root, demo = clone
    assert demo.returncode == 0, demo.stdout[-3000:] + demo.stderr[-3000:]
    assert demo.stderr == ""   # no dbt log, no libpng warning, nothing stray
    lines = demo.stdout.splitlines()
    assert len(lines) <= 30, demo.stdout
    assert not [line for line in lines if re.search(r"\b(START|PASS|OK created)\b", line)], demo.stdout
    text = demo.stdout
    assert "-> warehouse.duckdb" in text   # the default database, which every command and dbt read
    assert re.search(r"marts\.image_quality: 30 images, ", text)
    right = re.search(r"against its own labels \(demo_images/labels\.csv\): (\d+) of 30 right \((\d+)%\)", text)
    assert right, text
    if int(right.group(1)) < 30:   # the images it got wrong are named, so a first look can check them
        assert "where the model and the labels disagree" in text
    assert "report: report/index.html" in text and (root / "report" / "index.html").is_file()
    assert "source .venv/bin/activate" in text and "image-quality runs" in text
    assert (root / "warehouse.duckdb").is_file() and not (root / "demo.duckdb").exists()
    # no feature name of the model in the printout: the model changes, the demo does not
    import duckdb
    con = duckdb.connect(str(root / "warehouse.duckdb"), read_only=True)
    features = [f for (f,) in con.execute("select distinct feature from model.gaussian_nb_params").fetchall()]
    con.close()
    assert not [f for f in features if f in text]


def test_the_three_commands_work_bare_right_after_the_demo(clone):
    root, demo = clone
    assert demo.returncode == 0
    shutil.rmtree(root / "report")
    for command in (["image-quality", "runs"], ["image-quality", "report"], ["dbt", "docs", "generate"]):
        done = subprocess.run([str(root / ".venv" / "bin" / command[0]), *command[1:]], cwd=root, env=_clean_env(),
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, (command, done.stdout[-3000:], done.stderr[-3000:])
        if command[1] == "runs":
            assert re.search(r"^1\s+succeeded\s", done.stdout, re.M), done.stdout
    assert (root / "report" / "index.html").is_file()
    assert (root / "target" / "catalog.json").is_file()
    assert sorted(p.name for p in root.glob("*.duckdb")) == ["warehouse.duckdb"]   # dbt made no empty one


def test_the_readme_command_line_block_works_pasted_into_a_new_shell(clone):
    root, demo = clone
    assert demo.returncode == 0
    block = readme_command_line_block()
    assert block.startswith("source .venv/bin/activate")
    done = subprocess.run(["bash", "-e", "-c", block], cwd=root, env=_clean_env(), capture_output=True,
                          text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Previewing node 'worst_images'" in done.stdout
