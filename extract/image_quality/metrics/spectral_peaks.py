"""Isolated peaks in the spectrum: the signature of moire.

Moire is periodic: a screen's sub-pixel grid, a halftone's dots or a fabric's
weave, aliased by the camera, puts a few sharp peaks into the spectrum away
from its centre. Natural scenes have smooth spectra whose power falls off with
frequency, and edges make lines, not points.

On the grey analysis image (see ``decoding``), mean removed, times a 2-D Hann
window: ``P = |rfft2|^2``, ``L = ln(P + 1e-3)``, and each frequency's
prominence ``z = L - median5x5(L)`` (its excess over the median of its 5x5
neighbourhood, rows taken with wrap-around). Only frequencies above
``MIN_RADIUS = 0.04`` cycles/px and more than ``AXIS_GAP = 2`` bins off both
axes count (image borders and JPEG's block grid put lines on the axes).

* ``peak_prominence``: the mean of the ``TOP_PEAKS = 5`` largest z;
* ``peak_prominence_max``: the largest z.

In natural logarithm units: about 2.5 for photographs (the largest of many
chi-square fluctuations), 4 to 8 for moire. 0 for a flat image.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import MetricFamily

MIN_RADIUS = 0.04
AXIS_GAP = 2
TOP_PEAKS = 5
POWER_FLOOR = 1e-3


def peak_prominences(grey: np.ndarray) -> np.ndarray:
    """The largest ``TOP_PEAKS`` prominences z among the counted frequencies, sorted ascending."""
    import cv2
    import scipy.fft

    h, w = grey.shape
    if h < 8 or w < 8:
        return np.zeros(1, np.float32)
    plane = grey.astype(np.float32)
    plane -= plane.mean()
    plane *= _hann_window(h, w)
    power = np.abs(scipy.fft.rfft2(plane)) ** 2
    log_power = np.fft.fftshift(np.log(power + POWER_FLOOR).astype(np.float32), axes=0)
    prominence = log_power - cv2.medianBlur(np.ascontiguousarray(log_power), 5)
    values = prominence[_counted(h, w)]
    if not values.size:
        return np.zeros(1, np.float32)
    if values.size > TOP_PEAKS:  # only the largest few are used: no need to sort them all
        values = np.partition(values, values.size - TOP_PEAKS)[-TOP_PEAKS:]
    return np.sort(values)


# Most images share a handful of analysis sizes (1024 x 768, 768 x 1024, ...):
# their window and frequency mask are built once per worker.
@lru_cache(maxsize=16)
def _hann_window(h: int, w: int) -> np.ndarray:
    return _read_only(np.outer(np.hanning(h), np.hanning(w)).astype(np.float32))


@lru_cache(maxsize=16)
def _counted(h: int, w: int) -> np.ndarray:
    """The frequencies that count, in the row-shifted rfft2 layout: off-centre and off both axes."""
    fy = ((np.arange(h) - h // 2) / h)[:, None]
    fx = (np.arange(w // 2 + 1) / w)[None, :]
    return _read_only((fx ** 2 + fy ** 2 > MIN_RADIUS ** 2)
                      & (np.abs(fx) * w > AXIS_GAP) & (np.abs(fy) * h > AXIS_GAP))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared by every later call: no one may change it
    return array


class SpectralPeaks(MetricFamily):
    name = "spectral_peaks"
    table = "metric_spectral_peaks"
    version = 2
    columns = {"peak_prominence": "double", "peak_prominence_max": "double"}

    def calculate(self, image):
        z = peak_prominences(image.grey)
        return {"peak_prominence": float(np.mean(z[-TOP_PEAKS:], dtype=np.float64)),
                "peak_prominence_max": float(z[-1])}
