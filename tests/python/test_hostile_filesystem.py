"""A filesystem that moves under the run: unreadable files, files that vanish or change mid-run.

Real files, real permissions, real concurrent writers. Where a change must land
at one precise moment (after the walk, before the read), it is made by a
progress reporter: the loader's own interface for following a run, called once
the walk is done and before any file is read.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import subprocess
import sys
import textwrap

import cv2
import pytest

from conftest import last_run, query, write_jpeg
from image_quality import loader
from image_quality.measuring import FileTask, measure_file
from image_quality.metrics import all_families


def extract(folder, db, **kw):
    return loader.extract([str(folder)], db_path=str(db), workers=2, **kw)


def open_content(db, path) -> list[tuple]:
    return query(db, "select content_hash, valid_from_run from raw.files where path = ? and valid_to_run is null",
                 [str(path)])


def run_errors(db, run_id) -> dict[str, tuple]:
    rows = query(db, "select path, stage, error_kind from raw.extract_errors where run_id = ?", [run_id])
    return {path.rsplit("/", 1)[1]: (stage, kind) for path, stage, kind in rows}


# --- files and folders the extract may not read ------------------------------------------


def without_file_permission_override(probe_dir) -> list[str] | None:
    """A command prefix under which file modes bind, or None if there is none here.

    Root ignores file modes through two capabilities, CAP_DAC_OVERRIDE and
    CAP_DAC_READ_SEARCH. ``setpriv`` (util-linux) runs a command as root with
    both dropped from its bounding set, so chmod 000 stops it as it stops anyone.
    """
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        return None
    prefix = [setpriv, "--inh-caps=-dac_override,-dac_read_search",
              "--bounding-set=-dac_override,-dac_read_search", "--"]
    secret = probe_dir / "probe_secret"
    secret.write_bytes(b"x")
    secret.chmod(0)
    try:
        probe = subprocess.run([*prefix, sys.executable, "-c", f"open({str(secret)!r}).read()"],
                               capture_output=True, text=True)
    finally:
        secret.unlink()
    return prefix if probe.returncode != 0 and "PermissionError" in probe.stderr else None


def test_unreadable_file_and_folder_are_recorded_and_nothing_is_closed(tmp_path, photos):
    prefix = without_file_permission_override(tmp_path)
    if prefix is None:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE (no working setpriv): "
                    "file modes cannot be made to bind here")
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    write_jpeg(folder / "a.jpg", photos["china"])
    write_jpeg(folder / "locked" / "c.jpg", photos["flower"])
    assert extract(folder, db).counts.paths_added == 2
    write_jpeg(folder / "secret.jpg", photos["china"][:200, :300])
    (folder / "secret.jpg").chmod(0)
    (folder / "locked").chmod(0)
    try:
        result = subprocess.run([*prefix, sys.executable, "-m", "image_quality.cli", "extract", str(folder),
                                 "--db", str(db), "--workers", "2"], capture_output=True, text=True, timeout=300)
    finally:
        (folder / "locked").chmod(0o755)
        (folder / "secret.jpg").chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert last_run(db)["status"] == "succeeded"
    assert run_errors(db, 2) == {"secret.jpg": ("read", "permission_denied"),
                                 "locked": ("discover", "unreadable_folder")}
    # a folder the run could not see is not evidence that its files were removed
    assert [h for h, _ in open_content(db, (folder / "locked" / "c.jpg").as_posix())]
    assert last_run(db)["paths_removed"] == 0
    # once readable, the next run measures it
    assert extract(folder, db).counts.paths_added == 1
    assert open_content(db, (folder / "secret.jpg").as_posix())


# --- files that change between the walk and the read ------------------------------------


class ChangeAfterWalk:
    """A progress reporter that changes the folder when the loader announces its reads."""

    def __init__(self, change):
        self._change = change

    def add_total(self, n: int) -> None:
        if self._change:
            change, self._change = self._change, None
            change()

    def update(self, n: int = 1) -> None:
        pass


def test_files_that_vanish_change_or_turn_into_a_fifo_after_the_walk(tmp_path, photos):
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    names = ("gone.jpg", "edited.jpg", "fifo.jpg", "kept.jpg")
    for i, name in enumerate(names):
        write_jpeg(folder / name, photos["china" if i % 2 else "flower"][i * 20:, i * 30:])
    extract(folder, db)
    for name in names:  # a new mtime: every file is read again by the next run
        os.utime(folder / name, ns=(0, 1_000_000_000 * (1 + names.index(name))))
    path = {name: (folder / name).as_posix() for name in names}
    edited = cv2.GaussianBlur(photos["china"], (0, 0), 2)[:300, :400]

    def change():
        (folder / "gone.jpg").unlink()
        write_jpeg(folder / "edited.jpg", edited)
        (folder / "fifo.jpg").unlink()
        os.mkfifo(folder / "fifo.jpg")  # opening it for reading would block: it must not be opened so

    summary = extract(folder, db, progress=ChangeAfterWalk(change))
    assert run_errors(db, 2) == {"gone.jpg": ("read", "vanished"), "fifo.jpg": ("read", "not_a_file")}
    # gone, or no longer an image file: closed by this run, never deleted
    assert summary.counts.paths_removed == 2
    for name in ("gone.jpg", "fifo.jpg"):
        assert query(db, "select valid_to_run from raw.files where path = ? order by valid_from_run",
                     [path[name]]) == [(2,)]
    # rewritten after the walk: the bytes actually read are what is stored, with their own stat
    new_bytes = (folder / "edited.jpg").read_bytes()
    assert open_content(db, path["edited.jpg"]) == [(hashlib.sha256(new_bytes).hexdigest(), 2)]
    assert query(db, "select size_bytes, mtime_ns from raw.stat_cache where path = ?", [path["edited.jpg"]]) == \
        [(len(new_bytes), (folder / "edited.jpg").stat().st_mtime_ns)]
    assert query(db, "select count(*) from raw.metric_laplacian where content_hash = ?",
                 [hashlib.sha256(new_bytes).hexdigest()]) == [(1,)]
    assert len(open_content(db, path["kept.jpg"])) == 1
    # and the next run agrees with the disk: nothing to read, the FIFO seen for what it is
    again = extract(folder, db)
    assert (again.counts.files_read, again.counts.paths_removed, again.counts.paths_added) == (0, 0, 0)
    assert run_errors(db, 3) == {"fifo.jpg": ("discover", "not_a_file")}


# --- a file written to while it is read ---------------------------------------------------

GROWER = textwrap.dedent("""
    import sys, time
    path, start_size = sys.argv[1], int(sys.argv[2])
    with open(path, "r+b") as f:
        f.seek(0, 2)
        print("writing", flush=True)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            f.write(b"\\0" * 4096)
            f.flush()
            if f.tell() > 16 * 2**20:  # keep it small: shrink back to the image and grow again
                f.truncate(start_size)
                f.seek(start_size)
""")


@pytest.fixture
def growing_file(tmp_path, photos):
    """A JPEG that another process appends zeros to, without pause, while the test runs."""
    folder = tmp_path / "uploads"
    image = write_jpeg(folder / "growing.jpg", photos["china"])
    start = image.read_bytes()
    writer = subprocess.Popen([sys.executable, "-c", GROWER, str(image), str(len(start))],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert writer.stdout.readline().strip() == "writing"
        yield folder, image, start
    finally:
        writer.kill()
        writer.wait()


def test_a_file_written_while_read_is_detected(growing_file):
    _, image, _ = growing_file
    kinds = set()
    for _ in range(500):  # a bounded number of tries; nearly every read overlaps a write
        result = measure_file(FileTask(image.as_posix(), hash_only=True))
        kinds.update(e.error_kind for e in result.errors)
        if "changed_while_reading" in kinds:
            break
    assert "changed_while_reading" in kinds
    assert kinds <= {"changed_while_reading"}


def test_a_file_written_during_a_run_is_recorded_or_stored_consistently(growing_file, tmp_path, photos):
    folder, image, start = growing_file
    write_jpeg(folder / "good.jpg", photos["flower"])
    db = tmp_path / "w.duckdb"
    extract(folder, db)
    assert len(open_content(db, (folder / "good.jpg").as_posix())) == 1
    errors = query(db, "select stage, error_kind from raw.extract_errors where path = ?", [image.as_posix()])
    stored = query(db, "select content_hash, size_bytes from raw.files where path = ?", [image.as_posix()])
    if errors:
        assert errors == [("read", "changed_while_reading")] and stored == []
    else:  # the read fell between two writes: what is stored is exactly what the file held then
        (content_hash, size), = stored
        assert hashlib.sha256(start + b"\0" * (size - len(start))).hexdigest() == content_hash


# --- a folder listed but not entered; content read through any readable path --------------------


def extract_without_override(prefix, folder, db, bump: str | None = None) -> subprocess.CompletedProcess:
    """The real loader in another process under ``prefix`` (file modes bind), a family's version
    raised by one first when ``bump`` names it."""
    script = textwrap.dedent(f"""
        import sys
        from image_quality import loader
        from image_quality.metrics import families_by_name
        if {bump!r}:
            family = type(families_by_name()[{bump!r}])
            family.version += 1
        loader.extract([{str(folder)!r}], db_path={str(db)!r}, workers=2)
    """)
    return subprocess.run([*prefix, sys.executable, "-c", script], capture_output=True, text=True, timeout=300)


def test_a_folder_listed_but_not_entered_keeps_its_paths_open(tmp_path, photos):
    prefix = without_file_permission_override(tmp_path)
    if prefix is None:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE (no working setpriv)")
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    write_jpeg(folder / "a.jpg", photos["china"])
    write_jpeg(folder / "listed" / "c.jpg", photos["flower"])
    write_jpeg(folder / "listed" / "deeper" / "d.jpg", photos["flower"][:200, :300])
    assert extract(folder, db).counts.paths_added == 3
    (folder / "listed").chmod(0o444)   # r--: its names can be listed, nothing in it stat-ed or read
    try:
        result = extract_without_override(prefix, folder, db)
    finally:
        (folder / "listed").chmod(0o755)
    assert result.returncode == 0, result.stderr
    assert last_run(db)["status"] == "succeeded" and last_run(db)["paths_removed"] == 0
    assert run_errors(db, 2) == {"listed": ("discover", "unreadable_folder")}
    for name in ("listed/c.jpg", "listed/deeper/d.jpg"):
        assert [f for _, f in open_content(db, (folder / name).as_posix())] == [1], name
    # once enterable again nothing "comes back": it never left
    again = extract(folder, db)
    assert (again.counts.paths_added, again.counts.paths_removed, again.counts.files_read) == (0, 0, 0)


@pytest.mark.parametrize("bump", [None, "laplacian"], ids=["first-measure", "version-bump"])
def test_content_is_measured_through_any_readable_path_that_holds_it(tmp_path, photos, bump):
    prefix = without_file_permission_override(tmp_path)
    if prefix is None:
        pytest.skip("running as root and cannot drop CAP_DAC_OVERRIDE (no working setpriv)")
    folder, db = tmp_path / "uploads", tmp_path / "w.duckdb"
    data = write_jpeg(folder / "a_first.jpg", photos["china"][:300, :400]).read_bytes()
    (folder / "b_copy.jpg").write_bytes(data)
    content = hashlib.sha256(data).hexdigest()
    laplacian = [f for f in all_families() if f.name == "laplacian"][0]
    if bump:   # measured once; then the smallest name becomes unreadable and a family's version rises
        extract(folder, db)
        expected_version = laplacian.version + 1
    else:      # hashed by a run that died before measuring (both paths in the stat cache, no metrics)
        from image_quality.measuring import FileTask, measure_file
        import duckdb
        from image_quality import warehouse
        con = duckdb.connect(str(db))
        try:
            warehouse.ensure_schema(con, all_families())
            run_id = warehouse.start_run(con, [folder.as_posix()], "test")
            run = loader._LoadRun(con, run_id, all_families(), 1, 500, loader.NoProgress())
            results = [measure_file(FileTask((folder / n).as_posix(), hash_only=True))
                       for n in ("a_first.jpg", "b_copy.jpg")]
            for r in results:
                run._source_root[r.path] = folder.as_posix()
            run._pending = results
            run._flush()
        finally:
            con.close()
        expected_version = laplacian.version
    (folder / "a_first.jpg").chmod(0)
    try:
        result = extract_without_override(prefix, folder, db, bump)
    finally:
        (folder / "a_first.jpg").chmod(0o644)
    assert result.returncode == 0, result.stderr
    assert last_run(db)["status"] == "succeeded"
    assert query(db, "select count(*) from raw.metric_laplacian where content_hash = ? and metric_version = ?",
                 [content, expected_version]) == [(1,)]
    run_id = last_run(db)["run_id"]
    assert run_errors(db, run_id) == {"a_first.jpg": ("read", "permission_denied")}


# --- a full disk ------------------------------------------------------------------------------


@pytest.fixture
def small_filesystem(tmp_path):
    """A real 16 MB tmpfs mounted for the test (needs root, or CAP_SYS_ADMIN)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount_point)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_a_full_disk_stores_and_says_the_real_cause(small_filesystem, tmp_path, photos):
    from conftest import run_cli
    from s3_server import distinct_jpegs

    first, second = tmp_path / "first", tmp_path / "second"
    images = distinct_jpegs(photos, 160, size=160)
    for folder, images in ((first, images[:60]), (second, images[60:])):
        folder.mkdir()
        for i, data in enumerate(images):
            (folder / f"{folder.name}_{i:02d}.jpg").write_bytes(data)
    db = small_filesystem / "w.duckdb"
    assert run_cli("extract", str(first), "--db", str(db), "--workers", "2").returncode == 0
    free = os.statvfs(small_filesystem)
    with open(small_filesystem / "filler", "wb") as filler:   # all but 64 KB taken
        filler.write(b"\0" * (free.f_bavail * free.f_frsize - 64 * 1024))  # a few batches fit, then none
    full = run_cli("extract", str(first), str(second), "--db", str(db), "--workers", "2", "--batch-files", "5")
    assert full.returncode == 1, full.stderr
    assert full.stderr.count("\n") == 1 and "Traceback" not in full.stderr, full.stderr
    assert "No space left on device" in full.stderr
    (status, message), = query(db, "select status, message from raw.load_runs where run_id = 2")
    assert status == "failed" and "No space left on device" in message, message
    # room again: the next run completes, measuring what the failed one could not store
    (small_filesystem / "filler").unlink()
    again = run_cli("extract", str(first), str(second), "--db", str(db), "--workers", "2")
    assert again.returncode == 0, again.stderr
    assert query(db, "select count(*) from raw.files where valid_to_run is null") == [(160,)]
