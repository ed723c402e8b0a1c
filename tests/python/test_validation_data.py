"""The validation generator: same seed same bytes, the training set's labels.csv, true sizes and classes.

Only the photographs our dependencies ship are used (the Debian ones are for
`make train` and `make quality`), so this runs on any fresh clone.
"""

from __future__ import annotations

import csv
import subprocess
import sys

import cv2
import numpy as np
import pytest

from image_quality.lab.photographs import CATALOGUE, SPLITS, catalogue, split_of
from image_quality.lab.validation_data import CLASSES, MAX_LONG_SIDE, MIN_LONG_SIDE, write_validation_set

N = 12


@pytest.fixture(scope="module")
def validation_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("validation")
    labels = write_validation_set(str(out), n=N, seed=5, shipped_only=True)
    with labels.open(newline="") as f:
        return out, list(csv.reader(f))


def test_same_seed_same_bytes_and_another_seed_other_bytes(validation_set, tmp_path):
    out, rows = validation_set
    again = write_validation_set(str(tmp_path / "again"), n=N, seed=5, shipped_only=True)
    assert again.read_bytes() == (out / "labels.csv").read_bytes()
    for path, *_ in rows[1:]:
        assert (again.parent / path).read_bytes() == (out / path).read_bytes(), path
    other = write_validation_set(str(tmp_path / "other"), n=3, seed=6, shipped_only=True)
    first = rows[1][0]
    assert not (other.parent / first).exists() or (other.parent / first).read_bytes() != (out / first).read_bytes()


def test_labels_csv_has_the_training_sets_columns_and_real_files(validation_set):
    out, rows = validation_set
    assert rows[0] == ["path", "label", "photo", "degradation"]
    assert len(rows) == N + 1
    names = {p.name for p in CATALOGUE}
    for path, label, photo, degradation in rows[1:]:
        assert label in CLASSES
        assert photo in names and photo in path
        assert degradation.startswith(label)
        assert (out / path).is_file()
    assert [r[1] for r in rows[1:]] == [CLASSES[i % 3] for i in range(N)]


def test_sizes_are_in_range_and_images_decode(validation_set):
    out, rows = validation_set
    long_sides = []
    for path, *_ in rows[1:]:
        img = cv2.imread(str(out / path), cv2.IMREAD_COLOR)
        assert img is not None and img.dtype == np.uint8 and img.shape[2] == 3
        long_sides.append(max(img.shape[:2]))
    assert min(long_sides) >= MIN_LONG_SIDE and max(long_sides) <= MAX_LONG_SIDE
    assert sum(s < 700 for s in long_sides) >= 2, long_sides


def test_blurry_images_have_less_fine_detail_than_sharp_ones_of_the_same_photo(tmp_path):
    # a rough check that the labels mean something: per photo, the sharp image's share of
    # crisp neighbour steps exceeds the blurry one's (images 3k and 3k+1 share a photo)
    labels = write_validation_set(str(tmp_path), n=6, seed=11, shipped_only=True)
    rows = list(csv.DictReader(labels.open()))

    def crisp_share(path):
        grey = cv2.cvtColor(cv2.imread(str(tmp_path / path)), cv2.COLOR_BGR2GRAY).astype(np.int16)
        return float((np.abs(np.diff(grey, axis=1)) >= 28).mean())

    for k in (0, 3):
        assert rows[k]["photo"] == rows[k + 1]["photo"]
        assert crisp_share(rows[k]["path"]) > crisp_share(rows[k + 1]["path"]), (rows[k], rows[k + 1])


def test_the_catalogue_splits_scenes_and_keeps_validation_scenes_out_of_training():
    shipped = catalogue("all", shipped_only=True)
    assert {"china", "flower"} <= {p.name for p in shipped}
    train = {p.name for p in catalogue("train", shipped_only=True)}
    validation = {p.name for p in catalogue("validation", shipped_only=True)}
    assert train and validation and not train & validation
    assert all(p.split in SPLITS for p in CATALOGUE)
    assert len({p.name for p in CATALOGUE}) == len(CATALOGUE)
    assert split_of("china") == "train" and split_of("no such photo") is None
    assert {p.kind for p in CATALOGUE if p.split == "validation"} >= {"microscopy", "document"}


def test_cli_writes_a_set_and_refuses_a_bad_scene_split_in_one_line(tmp_path):
    cli = [sys.executable, "-m", "image_quality.cli"]
    done = subprocess.run([*cli, "validation-data", str(tmp_path / "v"), "--n", "3", "--seed", "1",
                           "--scenes", "validation"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader((tmp_path / "v" / "labels.csv").open()))
    assert len(rows) == 3 and all(split_of(r["photo"]) == "validation" for r in rows)
    bad = subprocess.run([*cli, "validation-data", str(tmp_path / "w"), "--scenes", "nope"],
                         capture_output=True, text=True)
    assert bad.returncode != 0 and "nope" in bad.stderr


def test_figures_count_recall_per_size_band_and_scene_split():
    from image_quality.lab.validation_report import SIZE_BANDS, figures_from_scores, size_band

    classes = ["blurry", "moire", "sharp"]
    onehot = {c: np.eye(3)[i] * 0.8 + 0.1 for i, c in enumerate(classes)}
    rows = [("moire", "validation", 320, onehot["sharp"]),     # a small screen photo called sharp
            ("moire", "validation", 499, onehot["moire"]),
            ("moire", "train", 500, onehot["moire"]),
            ("sharp", "train", 1500, onehot["blurry"]),       # smooth content called blurry
            ("sharp", "train", 1501, onehot["sharp"]),
            ("blurry", "train", 4032, onehot["blurry"], "blurry_defocus")]
    figures = figures_from_scores(rows, classes, seed=1, labelled=7)
    assert [size_band(s) for s in (499, 500, 1500, 1501)] == [b[0] for b in SIZE_BANDS[:1]] + \
        [SIZE_BANDS[1][0]] * 2 + [SIZE_BANDS[2][0]]
    small, middle, large = (b[0] for b in SIZE_BANDS)
    assert figures.recall_by_band[small] == {"moire": (1, 2)}
    assert figures.recall_by_band[middle] == {"moire": (1, 1), "sharp": (0, 1)}
    assert figures.recall_by_band[large] == {"sharp": (1, 1), "blurry": (1, 1)}
    assert figures.accuracy_by_scenes == {"validation": (1, 2), "train": (3, 4)}
    assert figures.evaluation.confusion == [[1, 0, 0], [0, 2, 1], [1, 0, 1]]
    markdown = "\n".join(figures.markdown_lines())
    assert f"| {small} | - | 0.500 | - | 2 |" in markdown
    assert "6 of 7 labelled images" in markdown
    assert "| validation scenes (never trained on) | 0.500 | 2 |" in markdown
    assert figures.recall_by_kind == {"blurry_defocus": (1, 1)}


def test_made_as_drops_the_parameters():
    from image_quality.lab.validation_report import made_as

    assert made_as("blurry_defocus4.4-bayer+nr4-215x385-q50") == "blurry_defocus"
    assert made_as("sharp_lowlight0.13-plain-614x345-q61") == "sharp_lowlight"
    assert made_as("moire_pentile-p1.25-a3-beat5-plain-659x1427-q72") == "moire_pentile"


def test_a_screen_photo_of_a_blank_screen_still_shows_its_moire_at_its_own_size():
    # on a flat grey screen any structure is the sub-pixel lattice aliasing; the smoothed image
    # (sigma 1 px at the final size) keeps the beat, which is at least 4 final pixels long;
    # sharp and blurry images of the same flat photograph hold only smoothed noise
    from image_quality.lab.photographs import CATALOGUE
    from image_quality.lab.validation_data import make_image

    flat = np.full((600, 800, 3), 128, np.uint8)
    about = next(p for p in CATALOGUE if p.name == "china")
    spread = {}
    for label in ("moire", "sharp", "blurry"):
        values = []
        for k in range(4):
            jpeg, how = make_image(flat, about, label, np.random.default_rng([99, k]))
            image = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR).astype(np.float32)
            smooth = cv2.GaussianBlur(image, (0, 0), 1.0)[4:-4, 4:-4]
            values.append(max(float(smooth[..., c].std()) for c in range(3)))  # screen moire is coloured
        spread[label] = values
    assert min(spread["moire"]) > 3 * max(spread["sharp"] + spread["blurry"]), spread
