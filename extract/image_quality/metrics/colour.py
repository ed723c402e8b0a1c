"""Colour: how much chroma an image has, and how much of it is fine detail.

On the BGR analysis image (see ``decoding``):

* ``chroma_mean`` and ``chroma_p99``: mean and nearest-rank 99th percentile of
  each pixel's largest difference between two of its channels, max(|B-G|,
  |G-R|, |R-B|), on the 0-255 scale. A greyscale picture stored as colour has
  ``chroma_p99`` of a few levels at most (JPEG's chroma rounding).
* ``chroma_fine_energy``: ln(1 + var(Cr - blur(Cr)) + var(Cb - blur(Cb))) with
  the YCrCb channels of ``cv2.cvtColor(COLOR_BGR2YCrCb)`` and a Gaussian blur
  of sigma ``FINE_SIGMA = 2`` px: colour detail finer than about 4 px. Natural
  photographs keep their colour in broad areas (below about 2.5); a screen's
  sub-pixels or a halftone's inks put colour into fine fringes.
"""

from __future__ import annotations

import numpy as np

from .base import MetricFamily

FINE_SIGMA = 2.0


class Colour(MetricFamily):
    name = "colour"
    table = "metric_colour"
    version = 1
    columns = {"chroma_mean": "double", "chroma_p99": "double", "chroma_fine_energy": "double"}

    def calculate(self, image):
        import cv2

        b, g, r = cv2.split(image.bgr)
        # integer differences of uint8 channels: exact in any process
        spread = cv2.max(cv2.max(cv2.absdiff(b, g), cv2.absdiff(g, r)), cv2.absdiff(r, b))
        # counts below 2**24 are exact in calcHist's float32; 3x faster than np.bincount
        histogram = cv2.calcHist([spread], [0], None, [256], [0, 256]).ravel().astype(np.int64)
        cumulative = np.cumsum(histogram)
        p99 = int(np.searchsorted(cumulative, 0.99 * cumulative[-1], side="left"))
        ycc = cv2.cvtColor(image.bgr, cv2.COLOR_BGR2YCrCb)
        fine = 0.0
        for channel in (1, 2):
            # a contiguous float32 copy of the plane, so the blur reads it at full speed
            plane = ycc[:, :, channel].astype(np.float32)
            plane -= cv2.GaussianBlur(plane, (0, 0), FINE_SIGMA)
            fine += float(np.var(plane, dtype=np.float64))
        mean = float(histogram @ np.arange(256) / histogram.sum())
        return {"chroma_mean": mean, "chroma_p99": float(p99),
                "chroma_fine_energy": float(np.log1p(fine))}
