"""Screen texture: a periodic grid in the pixel-scale detail, the signature of a photo of a screen.

A photo of a screen carries the screen's pixel grid, and the moire where that
grid beats against the camera's sensor, at the scale of the camera's own
pixels: a period of two to a few pixels, and its aliases. Area averaging to the
512 px analysis image removes most of it, and so does any reduced decode: on
111 real photographs (47 of screens), a GaussianNB on this family's mean with
two blur measures scores 0.88 leave-one-source-out when the crops are read at
full size, 0.79-0.84 when they are read from a decode reduced by half
(docs/METRICS.md). So this family reads the decoded plane at its full stored
size (``AnalysisImage.detail``), never resampled, in a few crops, and judges the
crops' noise residual, where the scene's own content is mostly gone:

1. crops: ``CROPS`` squares of ``CROP_SIZE = 256`` px (the largest power of two
   that fits when the plane is smaller, none under ``MIN_CROP = 32``) centred
   at the plane's centre and at the centres of its four quadrants, moved inside
   the plane where they would cross its edge;
2. residual: ``r = crop - median3(crop)`` (OpenCV's 3x3 median, float32);
3. spectrum: ``L = ln(|rfft2(hann * (r - mean r))|^2 + 1e-3)`` as in
   ``spectrum``;
4. excess: each frequency's ``box3(L)`` over its background (``spectrum``'s
   ``excess_map``: the median over about 40 x 40 frequencies), counted above
   ``MIN_RADIUS = 0.04`` cycles/px, more than 2 bins off both axes and, for a
   JPEG, more than ``BLOCK_GRID_GAP = 1`` bin from every harmonic of its 8x8
   block grid (period 8 px): compression's block edges are periodic too;
5. per crop, the mean of the ``TOP_EXCESSES = 25`` largest excesses.

Columns:

* ``texture_excess_max``: the largest crop's value (a screen shown in part of
  the frame still counts);
* ``texture_excess_mean``: the mean over the crops.

Natural-log units: about 2-3 for camera photographs of scenes and documents,
4-7 for photos of screens. 0 when the plane is flat or under ``MIN_CROP``.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import MetricFamily
from .spectrum import AXIS_GAP, MIN_RADIUS, TOP_EXCESSES, excess_map, largest, log_spectrum

CROP_SIZE = 256
MIN_CROP = 32
CROP_CENTRES = ((0.5, 0.5), (0.25, 0.25), (0.25, 0.75), (0.75, 0.25), (0.75, 0.75))  # (y, x) fractions
CROPS = len(CROP_CENTRES)
BLOCK_GRID_GAP = 1


class ScreenTexture(MetricFamily):
    name = "screen_texture"
    table = "metric_screen_texture"
    version = 1
    columns = {"texture_excess_max": "double", "texture_excess_mean": "double"}

    def calculate(self, image):
        values = crop_excesses(image.detail, image.jpeg_block_period)
        if not values:
            return dict.fromkeys(self.columns, 0.0)
        return {"texture_excess_max": float(max(values)),
                "texture_excess_mean": float(np.mean(values, dtype=np.float64))}


def crop_excesses(plane: np.ndarray, block_period: float) -> list[float]:
    """Each crop's mean of its ``TOP_EXCESSES`` largest residual excesses (empty: no crop fits)."""
    import cv2

    h, w = plane.shape
    size = crop_size(h, w)
    if not size:
        return []
    counted = counted_frequencies(size, float(block_period))
    values = []
    for y, x in crop_origins(h, w, size):
        crop = plane[y:y + size, x:x + size]
        residual = crop.astype(np.float32)
        residual -= cv2.medianBlur(np.ascontiguousarray(crop), 3)
        log_power = log_spectrum(residual)
        if not np.ptp(log_power):  # a flat crop: nothing stands out, exactly
            values.append(0.0)
            continue
        top = largest(excess_map(log_power)[counted], TOP_EXCESSES)
        values.append(float(np.mean(top, dtype=np.float64)))
    return values


def crop_size(h: int, w: int) -> int:
    """``CROP_SIZE``, or the largest power of two that fits a smaller plane; 0 under ``MIN_CROP``."""
    side = min(h, w, CROP_SIZE)
    if side < MIN_CROP:
        return 0
    return 1 << (side.bit_length() - 1)


def crop_origins(h: int, w: int, size: int) -> list[tuple[int, int]]:
    """Top-left corners of the crops, centred at ``CROP_CENTRES`` and moved inside the plane."""
    origins = []
    for fy, fx in CROP_CENTRES:
        y = min(max(0, int(round(fy * h - size / 2))), h - size)
        x = min(max(0, int(round(fx * w - size / 2))), w - size)
        origins.append((y, x))
    return origins


@lru_cache(maxsize=16)
def counted_frequencies(size: int, block_period: float) -> np.ndarray:
    """The counted frequencies of a ``size`` x ``size`` crop in the row-shifted rfft2 layout."""
    fy = ((np.arange(size) - size // 2) / size)[:, None]
    fx = (np.arange(size // 2 + 1) / size)[None, :]
    counted = ((fx ** 2 + fy ** 2 > MIN_RADIUS ** 2)
               & (np.abs(fx) * size > AXIS_GAP) & (np.abs(fy) * size > AXIS_GAP))
    if block_period >= 2:
        spacing = size / block_period   # bins between the block grid's harmonics
        for f in (fx, fy):
            bins = f * size
            counted = counted & (np.abs(bins - np.round(bins / spacing) * spacing) > BLOCK_GRID_GAP)
    counted.flags.writeable = False  # shared by every later call
    return counted
