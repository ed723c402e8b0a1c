"""A worker process that dies mid-image costs that image only.

The extract runs for real with ``crashing_decoder/`` on PYTHONPATH: in every
process it starts, OpenCV's ``imdecode`` kills the process with a real signal
when the bytes hold a marker (see crashing_decoder/sitecustomize.py). The pool
loses every chunk in flight; the loader must retry them one file at a time,
record the poisoned file as ``worker_crashed`` and measure all the others.
"""

from __future__ import annotations

import hashlib
import os

import pytest

from conftest import last_run, query, run_cli, write_jpeg

CRASHING_DECODER = os.path.join(os.path.dirname(__file__), "crashing_decoder")
GOOD_FILES = 12


def crashing_env() -> dict:
    return {"PYTHONPATH": os.pathsep.join(filter(None, [CRASHING_DECODER, os.environ.get("PYTHONPATH")]))}


@pytest.fixture
def folder_with_poison(tmp_path, photos):
    folder = tmp_path / "uploads"
    names = sorted(photos)
    for i in range(GOOD_FILES):
        img = photos[names[i % len(names)]]
        write_jpeg(folder / f"good_{i:02d}.jpg", img[i * 5:, i * 9:])

    def poison(marker: bytes):
        # a valid JPEG with the marker after its end-of-image: any decoder but the crashing one reads it
        path = write_jpeg(folder / "poison.jpg", photos["china"][:300, :400])
        path.write_bytes(path.read_bytes() + marker)
        return path

    return folder, poison


@pytest.mark.parametrize("marker", [b"SEGFAULT-IN-THE-DECODER", b"OOM-KILL-IN-THE-DECODER"],
                         ids=["SIGSEGV", "SIGKILL"])
def test_a_worker_killed_mid_decode_costs_that_file_only(tmp_path, folder_with_poison, marker):
    folder, poison = folder_with_poison
    poisoned = poison(marker)
    db = tmp_path / "w.duckdb"
    result = run_cli("extract", str(folder), "--db", str(db), "--workers", "2", env=crashing_env())
    assert result.returncode == 0, result.stderr
    run = last_run(db)
    assert (run["status"], run["files_failed"], run["images_decoded"]) == ("succeeded", 1, GOOD_FILES)
    assert query(db, "select path, stage, error_kind, content_hash from raw.extract_errors") == [
        (poisoned.as_posix(), "worker", "worker_crashed", hashlib.sha256(poisoned.read_bytes()).hexdigest())]
    measured = query(db, "select count(*) from raw.files join raw.metric_laplacian using (content_hash)")
    assert measured == [(GOOD_FILES,)]
    # the crashing content is remembered: the next run does not feed it to a decoder again
    again = run_cli("extract", str(folder), "--db", str(db), "--workers", "2", env=crashing_env())
    assert again.returncode == 0, again.stderr
    assert (last_run(db)["files_read"], last_run(db)["images_decoded"], last_run(db)["files_failed"]) == (0, 0, 0)


def test_the_poisoned_file_is_an_ordinary_image_without_the_crashing_decoder(tmp_path, folder_with_poison):
    """The control: the crash above comes from the decoder, not from the file or the loader."""
    folder, poison = folder_with_poison
    poison(b"SEGFAULT-IN-THE-DECODER")
    db = tmp_path / "w.duckdb"
    result = run_cli("extract", str(folder), "--db", str(db), "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert (last_run(db)["files_failed"], last_run(db)["images_decoded"]) == (0, GOOD_FILES + 1)
