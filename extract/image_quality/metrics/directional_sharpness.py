"""Sharpness by direction, as a ratio of scales: blur that does not track texture.

How much texture a scene has changes every absolute sharpness measure; blur
changes how fine-scale detail compares with the same detail one octave
coarser. Motion blur removes fine detail along one direction only, so the
ratio is taken per direction and the least sharp direction reported.

On the grey analysis image g0 (see ``decoding``) and g1 = cv2.pyrDown(g0), with
3x3 Sobel derivatives in float32: the directional derivative energy
``E(theta) = mean((cos(theta) gx + sin(theta) gy)^2)`` from each scale's
structure-tensor sums, for ``DIRECTIONS = 16`` angles over [0, pi), and
``r(theta) = ln((E0(theta) + 1e-3) / (E1(theta) + 1e-3))``.

* ``dir_sharpness_min``: the smallest r (the blurriest direction);
* ``dir_sharpness_max``: the largest r.

For a sharp photograph r is near 0 or above; blur of 1 analysis pixel brings
the minimum below -0.6. A flat image gives 0.
"""

from __future__ import annotations

import numpy as np

from .base import MetricFamily

DIRECTIONS = 16
ENERGY_FLOOR = 1e-3


def _tensor(gx: np.ndarray, gy: np.ndarray) -> tuple[float, float, float]:
    """(mean gx^2, mean gx gy, mean gy^2), from means and deviations accumulated in double."""
    import cv2

    def second_moment(values):
        mean, std = cv2.meanStdDev(values)
        return float(std[0, 0]) ** 2 + float(mean[0, 0]) ** 2

    xx, yy = second_moment(gx), second_moment(gy)
    return xx, (second_moment(gx + gy) - xx - yy) / 2.0, yy


def direction_ratios(image) -> np.ndarray:
    """r(theta) for DIRECTIONS angles, from the image's shared fine gradients and octave."""
    import cv2

    if min(image.grey.shape) < 2:
        return np.zeros(DIRECTIONS)
    gx, gy = image.sobel
    coarse = image.coarse
    theta = np.arange(DIRECTIONS) * np.pi / DIRECTIONS
    c, s = np.cos(theta), np.sin(theta)

    def energy(t):
        return c * c * t[0] + 2 * c * s * t[1] + s * s * t[2] + ENERGY_FLOOR

    fine = _tensor(gx.astype(np.int32), gy.astype(np.int32))
    coarse_t = _tensor(cv2.Sobel(coarse, cv2.CV_32F, 1, 0), cv2.Sobel(coarse, cv2.CV_32F, 0, 1))
    return np.log(energy(fine) / energy(coarse_t))


class DirectionalSharpness(MetricFamily):
    name = "directional_sharpness"
    table = "metric_directional_sharpness"
    version = 3
    columns = {"dir_sharpness_min": "double", "dir_sharpness_max": "double"}

    def calculate(self, image):
        r = direction_ratios(image)
        return {"dir_sharpness_min": float(r.min()), "dir_sharpness_max": float(r.max())}
