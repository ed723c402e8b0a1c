"""Which files a run finds: extensions, hidden folders, symlinks, loops."""

from __future__ import annotations

import os

import pytest

from conftest import write_jpeg
from image_quality.sources.local import SourceError, Walk, check_sources, walk_sources


def found(*roots):
    walk = Walk()
    files = list(walk_sources(check_sources([str(r) for r in roots]), walk))
    return {f.path for f in files}, walk


@pytest.fixture
def tree(tmp_path, photos):
    img = photos["china"][:64, :64]
    root = tmp_path / "src"
    for rel in ("a.jpg", "b.JPEG", "c.Png", "d.webp.bmp", "e.TIF", "f.tiff", "deep/x/y/z.jpg",
                ".hidden/secret.jpg", "notes.txt", "g.gif", "h.jpg.txt", ".dot.jpg"):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        write_jpeg(path, img)  # contents do not matter to discovery
    return root


def test_extensions_case_insensitive_and_hidden_skipped(tree):
    paths, walk = found(tree)
    names = {p.rsplit("/", 1)[1] for p in paths}
    assert names == {"a.jpg", "b.JPEG", "c.Png", "d.webp.bmp", "e.TIF", "f.tiff", "z.jpg"}
    assert not walk.problems
    assert all(p.startswith(tree.resolve().as_posix() + "/") for p in paths)


def test_symlinked_files_and_folders_are_followed_loops_end(tree, tmp_path, photos):
    elsewhere = tmp_path / "elsewhere"
    write_jpeg(elsewhere / "linked_target.jpg", photos["flower"][:32, :32])
    os.symlink(elsewhere / "linked_target.jpg", tree / "link.jpg")
    os.symlink(elsewhere, tree / "linked_folder")
    os.symlink(tree, tree / "deep" / "loop")          # a folder that contains itself
    os.symlink(tree / "missing.jpg", tree / "dangling.jpg")
    paths, walk = found(tree)
    root = tree.resolve().as_posix()
    assert f"{root}/link.jpg" in paths                 # stored under the link's own path
    assert f"{root}/linked_folder/linked_target.jpg" in paths
    assert not any("/loop/" in p for p in paths)
    assert [(p.kind, p.path) for p in walk.problems] == [("broken_link", f"{root}/dangling.jpg")]


def test_overlapping_sources_walk_a_folder_once(tree):
    paths_once, _ = found(tree)
    walk = Walk()
    files = list(walk_sources(check_sources([str(tree), str(tree / "deep")]), walk))
    assert len(files) == len(paths_once)


def test_missing_source_is_refused(tmp_path):
    with pytest.raises(SourceError, match="does not exist"):
        check_sources([str(tmp_path / "nope")])


def test_single_image_file_as_source(tree):
    paths, _ = found(tree / "a.jpg")
    assert paths == {(tree / "a.jpg").resolve().as_posix()}
