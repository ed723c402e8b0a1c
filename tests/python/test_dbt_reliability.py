"""Reliability cases that need the dbt project: hostile names in the marts, an orphan score.

The other "tests that bite" (a NaN metric, a duplicate key, a probability of
1.2, a wrong golden probability) are in test_dbt_project.py; this module adds
the orphan score, and follows hostile file names from the loader through
every model to marts.image_quality.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import query, write_jpeg
from dbt_run import copy_db, copy_project, run_dbt
from image_quality import paths
from test_hostile_names import HOSTILE_NAMES

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hostile_scored(tmp_path_factory, photos) -> tuple[Path, Path, bytes]:
    """(dbt project copy, warehouse, image folder): hostile names extracted, then `dbt build`."""
    root = tmp_path_factory.mktemp("dbt_hostile")
    folder = os.fsencode(root) + b"/uploads 'o; drop \xe9"
    os.mkdir(folder)
    china, flower = photos["china"], photos["flower"]
    for i, name in enumerate(HOSTILE_NAMES):
        write_jpeg(root / "staging.jpg", (china if i % 2 else flower)[i * 7: i * 7 + 200, i * 11: i * 11 + 300])
        os.rename(root / "staging.jpg", folder + b"/" + name)
    db = root / "w.duckdb"
    done = subprocess.run([sys.executable, "-m", "image_quality.cli", "extract", os.fsdecode(folder),
                           "--db", str(db), "--quiet"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    project = copy_project(root / "project")
    code, output = run_dbt(project, db, "build")
    assert code == 0, output[-5000:]
    return project, db, folder


def test_hostile_names_reach_the_marts_exactly(hostile_scored):
    _, db, folder = hostile_scored
    expected = {paths.to_text(folder + b"/" + name) for name in HOSTILE_NAMES}
    raw = {p for (p,) in query(db, "select path from raw.files where valid_to_run is null")}
    marts = {p for (p,) in query(db, "select path from marts.image_quality")}
    assert raw == marts == expected
    assert query(db, "select count(*) from marts.image_quality where score_status = 'scored'") == \
        [(len(HOSTILE_NAMES),)]
    assert {paths.to_os(p) for p in marts} == {folder + b"/" + n for n in os.listdir(folder)}


def test_an_orphan_score_fails_the_relationship_tests(hostile_scored, tmp_path):
    """A score whose content no file holds and no features describe: dbt build must fail on it."""
    project, db, _ = hostile_scored
    db = copy_db(db, tmp_path / "orphan.duckdb")
    import duckdb

    con = duckdb.connect(str(db))
    try:
        con.execute("""insert into marts.image_scores
                       select * replace (repeat('f', 64) as content_hash) from marts.image_scores limit 1""")
    finally:
        con.close()
    code, output = run_dbt(project, db, "build", "--select", "image_scores")
    assert code != 0, output[-3000:]
    for test_name in ("relationships_image_scores_content_hash__content_hash__ref_int_image_features_",
                      "relationships_image_scores_content_hash__content_hash__ref_stg_raw__files_"):
        assert f"FAIL 1 {test_name}" in output, (test_name, output[-3000:])
