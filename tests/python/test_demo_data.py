"""The training generator: same seed same bytes, screens only in the moire class, printed matter sharp."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from image_quality.lab import demo_data
from image_quality.lab.demo_data import CLASSES, write_demo_set

N = 6


@pytest.fixture(scope="module")
def demo_set(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    labels = write_demo_set(str(out), n=N, seed=3, workers=1)
    with labels.open(newline="") as f:
        return out, list(csv.DictReader(f))


def test_same_seed_same_bytes(demo_set, tmp_path):
    out, rows = demo_set
    again = write_demo_set(str(tmp_path / "again"), n=N, seed=3, workers=2)
    assert again.read_bytes() == (out / "labels.csv").read_bytes()
    for row in rows:
        assert (again.parent / row["path"]).read_bytes() == (out / row["path"]).read_bytes(), row["path"]


def test_classes_in_turn_and_sizes_as_uploads(demo_set):
    out, rows = demo_set
    assert [r["label"] for r in rows] == [CLASSES[i % 3] for i in range(N)]
    low = min(lo for _, _, lo, _ in demo_data.UPLOADS)
    high = max(hi for _, _, _, hi in demo_data.UPLOADS)
    for row in rows:
        img = cv2.imread(str(out / row["path"]), cv2.IMREAD_COLOR)
        assert img is not None and img.shape[2] == 3
        # a sharp crop is never enlarged, so it may be smaller than the upload drawn
        assert max(img.shape[:2]) <= high
        if row["label"] != "sharp":
            assert max(img.shape[:2]) >= low, row


def test_moire_is_a_photo_of_a_screen_with_its_grid_at_the_pixel_scale():
    # a flat grey photograph on a screen: the fine structure is the screen's grid (1.3-4.5 px)
    # and the sensor's noise; the grid is faint on some screens, as on real ones, but over a
    # few screens it stands well above what the noise alone leaves
    flat = np.full((300, 400, 3), 128, np.uint8)

    def fine(image):
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
        return float((grey - cv2.GaussianBlur(grey, (0, 0), 3)).std())

    spreads = []
    for seed in range(8):
        image, how = demo_data.screen_capture(flat, np.random.default_rng(seed), 800)
        assert how.split("_")[1] in demo_data.SCREEN_LAYOUTS
        assert max(image.shape[:2]) == 800
        spreads.append(fine(image))
    noise_only = max(fine(demo_data.add_sensor_noise(flat, np.random.default_rng(s))) for s in range(8))
    assert np.median(spreads) > 2 * noise_only, (spreads, noise_only)


def test_printed_matter_is_sharp_and_holds_dark_ink_on_light_paper():
    photo = np.full((200, 300, 3), 90, np.uint8)
    rng = np.random.default_rng(7)
    image, how = demo_data.printed_capture(photo, rng, 900)
    assert how.startswith("printed_")
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    assert np.percentile(grey, 99) > 150 and np.percentile(grey, 1) < 110
