"""Hostile file names: stored exactly, round-tripped exactly, injected nowhere.

A POSIX name is any bytes but "/" and NUL; DuckDB VARCHAR must be UTF-8. The
stored form (``image_quality.paths``) is the name itself, except that bytes that
are not UTF-8 are written \\xNN and a backslash is doubled. These tests walk a
real folder of such names through the real CLI into a real DuckDB file.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import given, strategies as st

from conftest import last_run, query, run_cli, write_jpeg
from image_quality import paths

# name on disk (bytes) -> its stored form, for the names whose stored form differs or matters
HOSTILE_NAMES: dict[bytes, str] = {
    b"with space.jpg": "with space.jpg",
    b"quote'single.jpg": "quote'single.jpg",
    b'quote"double.jpg': 'quote"double.jpg',
    b"semi;colon.jpg": "semi;colon.jpg",
    b"new\nline.jpg": "new\nline.jpg",
    b"tab\tand\rreturn.jpg": "tab\tand\rreturn.jpg",
    b"x'); drop table raw.files; --.jpg": "x'); drop table raw.files; --.jpg",
    b"\"; drop schema raw cascade; --.png": "\"; drop schema raw cascade; --.png",
    b"$(touch pwned).jpg": "$(touch pwned).jpg",
    b"`touch pwned`.jpg": "`touch pwned`.jpg",
    b"-rf --no-preserve-root.jpg": "-rf --no-preserve-root.jpg",
    b"{{ var('x') }} {% raw %}.jpg": "{{ var('x') }} {% raw %}.jpg",
    b"%s %n %x.jpg": "%s %n %x.jpg",
    "caf\u00e9 \U0001F39E \u05e9\u05dc\u05d5\u05dd.jpg".encode(): "caf\u00e9 \U0001F39E \u05e9\u05dc\u05d5\u05dd.jpg",
    b"latin1 caf\xe9.jpg": "latin1 caf\\xe9.jpg",              # not UTF-8: the byte is escaped
    b"\xff\xfe.jpg": "\\xff\\xfe.jpg",
    b"encoded surrogate \xed\xa0\x80.jpg": "encoded surrogate \\xed\\xa0\\x80.jpg",
    b"overlong \xc0\xaf.jpg": "overlong \\xc0\\xaf.jpg",
    b"\\xff.jpg": "\\\\xff.jpg",                                # the characters \xff: not the byte
    b"back\\slash.jpg": "back\\\\slash.jpg",
}
ROOT_NAME = b"uploads 'o; drop \xe9"  # the source folder's own name is hostile too


@pytest.fixture
def hostile_folder(tmp_path, photos):
    root = os.fsencode(tmp_path) + b"/" + ROOT_NAME
    os.mkdir(root)
    china, flower = photos["china"], photos["flower"]
    for i, name in enumerate(HOSTILE_NAMES):
        image = (china if i % 2 else flower)[i * 7: i * 7 + 200, i * 11: i * 11 + 300]  # distinct content
        write_jpeg(tmp_path / "staging.jpg", image)
        os.rename(tmp_path / "staging.jpg", root + b"/" + name)
    return root


def stored_root(tmp_path) -> str:
    return paths.to_text(os.fsencode(tmp_path) + b"/" + ROOT_NAME)


def test_every_hostile_name_is_stored_exactly_and_measured(tmp_path, hostile_folder):
    db = tmp_path / "w.duckdb"
    result = run_cli("extract", os.fsdecode(hostile_folder), "--db", str(db), "--workers", "2")
    assert result.returncode == 0, result.stderr
    run = last_run(db)
    assert (run["status"], run["paths_added"], run["files_failed"]) == ("succeeded", len(HOSTILE_NAMES), 0)
    root = stored_root(tmp_path)
    expected = {f"{root}/{text}" for text in HOSTILE_NAMES.values()}
    assert {p for (p,) in query(db, "select path from raw.files")} == expected
    assert query(db, "select distinct source_root from raw.files") == [(root,)]
    assert run["sources"] == [root]
    measured = query(db, "select count(*) from raw.files f join raw.metric_laplacian using (content_hash)")
    assert measured == [(len(HOSTILE_NAMES),)]


def test_stored_paths_give_back_the_exact_bytes_on_disk(tmp_path, hostile_folder):
    db = tmp_path / "w.duckdb"
    assert run_cli("extract", os.fsdecode(hostile_folder), "--db", str(db)).returncode == 0
    on_disk = {hostile_folder + b"/" + name for name in os.listdir(hostile_folder)}
    round_tripped = {paths.to_os(p) for (p,) in query(db, "select path from raw.files")}
    assert round_tripped == on_disk
    for raw in round_tripped:  # and each opens the very file
        assert os.path.isfile(raw)


def test_the_byte_and_the_characters_that_spell_it_stay_apart(tmp_path, hostile_folder):
    db = tmp_path / "w.duckdb"
    assert run_cli("extract", os.fsdecode(hostile_folder), "--db", str(db)).returncode == 0
    root = stored_root(tmp_path)
    byte, spelled = f"{root}/\\xff\\xfe.jpg", f"{root}/\\\\xff.jpg"
    hashes = dict(query(db, "select path, content_hash from raw.files where path in (?, ?)", [byte, spelled]))
    assert len(hashes) == 2 and hashes[byte] != hashes[spelled]
    assert paths.to_os(spelled).endswith(b"/\\xff.jpg") and paths.to_os(byte).endswith(b"/\xff\xfe.jpg")


def test_nothing_is_injected_into_sql_or_a_shell(tmp_path, hostile_folder):
    db = tmp_path / "w.duckdb"
    assert run_cli("extract", os.fsdecode(hostile_folder), "--db", str(db), cwd=tmp_path).returncode == 0
    tables = {t for (t,) in query(db, "select table_name from information_schema.tables where table_schema = 'raw'")}
    assert {"files", "load_runs", "stat_cache", "extract_errors", "metric_laplacian"} <= tables
    assert not (tmp_path / "pwned").exists() and not os.path.exists(hostile_folder + b"/pwned")
    listing = run_cli("runs", "--db", str(db))
    assert listing.returncode == 0 and stored_root(tmp_path) in listing.stdout


def test_hostile_names_are_tracked_across_runs(tmp_path, hostile_folder):
    """The stat cache and path history match names exactly: nothing re-read, one exact removal."""
    db = tmp_path / "w.duckdb"
    assert run_cli("extract", os.fsdecode(hostile_folder), "--db", str(db)).returncode == 0
    assert run_cli("extract", os.fsdecode(hostile_folder), "--db", str(db)).returncode == 0
    assert (last_run(db)["files_unchanged"], last_run(db)["files_read"]) == (len(HOSTILE_NAMES), 0)
    os.unlink(hostile_folder + b"/latin1 caf\xe9.jpg")
    assert run_cli("extract", os.fsdecode(hostile_folder), "--db", str(db)).returncode == 0
    assert last_run(db)["paths_removed"] == 1
    closed = query(db, "select path from raw.files where valid_to_run is not null")
    assert closed == [(f"{stored_root(tmp_path)}/latin1 caf\\xe9.jpg",)]


def test_a_single_hostile_file_given_as_the_source(tmp_path, hostile_folder):
    db = tmp_path / "w.duckdb"
    source = hostile_folder + b"/x'); drop table raw.files; --.jpg"
    assert run_cli("extract", os.fsdecode(source), "--db", str(db)).returncode == 0
    assert query(db, "select path, source_root from raw.files") == [(paths.to_text(source), stored_root(tmp_path))]


# --- the stored form itself ---------------------------------------------------------------

posix_names = st.binary(min_size=1, max_size=40).filter(lambda b: b"\0" not in b)


@given(posix_names)
def test_stored_form_round_trips_any_bytes(raw):
    text = paths.to_text(raw)
    text.encode("utf-8")  # valid UTF-8: DuckDB VARCHAR and Arrow strings take it
    assert paths.to_os(text) == raw


@given(posix_names, posix_names)
def test_stored_form_never_collides(a, b):
    if a != b:
        assert paths.to_text(a) != paths.to_text(b)


@given(st.text(min_size=1, max_size=40).filter(lambda t: "\\" not in t and "\0" not in t
                                                  and not any(0xD800 <= ord(c) <= 0xDFFF for c in t)))
def test_stored_form_is_the_name_itself_for_utf8_without_backslashes(name):
    assert paths.to_text(name.encode("utf-8")) == name


def test_a_stored_form_with_a_lone_backslash_is_refused():
    with pytest.raises(ValueError):
        paths.to_os("/a\\b.jpg")
