"""The two families judged on real photographs: screen_texture (pixel-scale crops) and blur_effect.

blur_effect must be scikit-image's ``blur_effect`` (Crete-Roffet 2007) on the
analysis image; screen_texture must see a screen's pixel grid at full size,
must not see the JPEG block grid a photo's compression leaves, and must read
the full-size decoded plane, not the 512 px analysis image.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from conftest import photographs, write_jpeg, write_png
from image_quality.decoding import ANALYSIS_LONG_SIDE, AnalysisImage, ImageHeader, decode
from image_quality.metrics.blur_effect import BlurEffect
from image_quality.metrics.screen_texture import (CROP_SIZE, ScreenTexture, counted_frequencies, crop_origins,
                                                  crop_size)

PHOTOS = photographs()
NAMES = ["china", "flower"] + [n for n in sorted(PHOTOS) if n not in ("china", "flower")][:2]


def enlarged(photo: np.ndarray, long_side: int = 1600) -> np.ndarray:
    h, w = photo.shape[:2]
    scale = long_side / max(h, w)
    return cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)


def on_a_screen(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo shown on a stripe display (R, G, B columns, a dark gap between rows), captured at
    about 1.4 camera pixels per screen pixel: the grid aliases at the pixel scale."""
    h, w = photo.shape[:2]
    cell = 3
    small = cv2.resize(photo, (int(w / 1.4), int(h / 1.4)), interpolation=cv2.INTER_AREA)
    screen = cv2.resize(small, (small.shape[1] * cell, small.shape[0] * cell), interpolation=cv2.INTER_NEAREST)
    mask = np.zeros((cell, cell, 3), np.float32)
    for column, channel in enumerate((2, 1, 0)):
        mask[:, column, channel] = 3.0
    mask[cell - 1] *= 0.4
    lit = screen.astype(np.float32) * np.tile(mask, (small.shape[0], small.shape[1], 1))
    lit = cv2.GaussianBlur(lit, (0, 0), 0.6)
    captured = cv2.resize(lit, (w, h), interpolation=cv2.INTER_LINEAR)
    noise = rng.normal(0, 1.5, captured.shape)
    return np.clip(captured + noise, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("name", NAMES)
def test_blur_effect_is_scikit_images(tmp_path, name):
    from skimage.measure import blur_effect

    image = decode(write_jpeg(tmp_path / "p.jpg", enlarged(PHOTOS[name])).read_bytes())
    ours = BlurEffect().calculate(image)
    theirs = blur_effect(image.grey, reduce_func=None)
    assert ours["blur_effect"] == pytest.approx(max(theirs), abs=1e-5)
    assert ours["blur_effect_min"] == pytest.approx(min(theirs), abs=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_blur_effect_rises_with_blur(tmp_path, name):
    photo = enlarged(PHOTOS[name])
    sharp = BlurEffect().calculate(decode(write_jpeg(tmp_path / "s.jpg", photo).read_bytes()))
    soft = BlurEffect().calculate(decode(write_jpeg(tmp_path / "b.jpg", cv2.GaussianBlur(photo, (0, 0), 6)).read_bytes()))
    assert soft["blur_effect"] > sharp["blur_effect"] + 0.15


def test_blur_effect_of_flat_and_tiny_images_is_zero():
    flat = AnalysisImage(ImageHeader("png", 64, 64, "L", 1, 1), np.full((64, 64), 90, np.uint8))
    tiny = AnalysisImage(ImageHeader("png", 3, 3, "L", 1, 1), np.arange(9, dtype=np.uint8).reshape(3, 3))
    assert BlurEffect().calculate(flat) == {"blur_effect": 0.0, "blur_effect_min": 0.0}
    assert BlurEffect().calculate(tiny) == {"blur_effect": 0.0, "blur_effect_min": 0.0}


@pytest.mark.parametrize("name", NAMES)
def test_a_screen_photo_stands_out_of_the_same_scene(tmp_path, name):
    rng = np.random.default_rng(0)
    photo = enlarged(PHOTOS[name])
    scene = ScreenTexture().calculate(decode(write_jpeg(tmp_path / "scene.jpg", photo, 85).read_bytes()))
    screen = ScreenTexture().calculate(decode(write_jpeg(tmp_path / "screen.jpg", on_a_screen(photo, rng), 85)
                                              .read_bytes()))
    assert scene["texture_excess_mean"] < 3.5
    assert screen["texture_excess_mean"] > scene["texture_excess_mean"] + 1.0
    assert screen["texture_excess_max"] >= screen["texture_excess_mean"]


@pytest.mark.parametrize("name", NAMES[:2])
def test_heavy_jpeg_compression_is_not_a_screen(tmp_path, name):
    """The 8x8 block grid of a JPEG at quality 20 is periodic too; its harmonics are not counted."""
    photo = enlarged(PHOTOS[name])
    fine = ScreenTexture().calculate(decode(write_png(tmp_path / "fine.png", photo).read_bytes()))
    coarse = ScreenTexture().calculate(decode(write_jpeg(tmp_path / "q20.jpg", photo, 20).read_bytes()))
    assert coarse["texture_excess_mean"] < fine["texture_excess_mean"] + 1.0


def test_the_block_grid_harmonics_are_left_out():
    counted = counted_frequencies(CROP_SIZE, 8.0)
    plain = counted_frequencies(CROP_SIZE, 0.0)
    rows = (np.arange(CROP_SIZE) - CROP_SIZE // 2)[:, None]
    columns = np.arange(CROP_SIZE // 2 + 1)[None, :]
    on_grid = ((columns % 32) == 0) | ((rows % 32) == 0)   # multiples of 1/8 cycles/px: every 32 bins
    assert not counted[on_grid & plain].any()
    assert counted.sum() < plain.sum()
    assert (plain & ~counted & ~on_grid).sum() > 0   # a bin either side of each harmonic too


def test_the_crops_read_the_full_size_plane_not_the_analysis_image(tmp_path):
    rng = np.random.default_rng(1)
    photo = on_a_screen(enlarged(PHOTOS["china"], 2400), rng)
    image = decode(write_jpeg(tmp_path / "big.jpg", photo, 90).read_bytes())
    assert image.detail.shape == photo.shape[:2]
    assert max(image.grey.shape) == ANALYSIS_LONG_SIDE
    full = ScreenTexture().calculate(image)
    analysis_only = ScreenTexture().calculate(AnalysisImage(image.header, image.grey))
    assert full["texture_excess_mean"] > analysis_only["texture_excess_mean"] + 1.0


def test_crop_geometry():
    assert crop_size(1200, 1600) == 256
    assert crop_size(200, 3000) == 128
    assert crop_size(31, 500) == 0
    origins = crop_origins(1200, 1600, 256)
    assert origins[0] == (472, 672)            # centred
    assert all(0 <= y <= 1200 - 256 and 0 <= x <= 1600 - 256 for y, x in origins)
    assert crop_origins(256, 256, 256) == [(0, 0)] * 5


def test_flat_and_tiny_planes_measure_zero():
    flat = AnalysisImage(ImageHeader("png", 600, 400, "L", 1, 1), np.full((400, 600), 128, np.uint8))
    tiny = AnalysisImage(ImageHeader("png", 20, 20, "L", 1, 1), np.zeros((20, 20), np.uint8))
    for image in (flat, tiny):
        assert ScreenTexture().calculate(image) == {"texture_excess_max": 0.0, "texture_excess_mean": 0.0}
