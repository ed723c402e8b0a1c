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

A screen photographed at an angle, through a lens, with perspective, spreads
each peak over several frequencies, which the 5x5 median swallows. So also
each frequency's excess ``e = box3(L) - B``: the 3x3 mean of L over its
background B, the median of L over about 40 x 40 frequencies (L area-averaged
by ``BACKGROUND_BLOCK = 8``, a 5x5 median, bilinear back to full size), over
the same frequencies:

* ``peak_excess``: the mean of the ``TOP_EXCESSES = 25`` largest e;
* ``peak_excess_max``: the largest e.

In natural logarithm units: prominences about 2.5 for photographs (the largest
of many chi-square fluctuations), 4 to 8 for clean moire; excesses about 3 for
photographs. All four are 0 for a flat image or one under 8 px a side.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import MetricFamily

MIN_RADIUS = 0.04
AXIS_GAP = 2
TOP_PEAKS = 5
TOP_EXCESSES = 25
BACKGROUND_BLOCK = 8
POWER_FLOOR = 1e-3


def log_spectrum(grey: np.ndarray) -> np.ndarray:
    """``L = ln(|rfft2(hann * (grey - mean))|^2 + POWER_FLOOR)``, rows shifted so frequency 0 is central."""
    import scipy.fft

    h, w = grey.shape
    plane = grey.astype(np.float32)
    plane -= plane.mean()
    plane *= hann_window(h, w)
    power = np.abs(scipy.fft.rfft2(plane)) ** 2
    return np.ascontiguousarray(np.fft.fftshift(np.log(power + POWER_FLOOR).astype(np.float32), axes=0))


def peak_prominences(log_power: np.ndarray, h: int, w: int) -> np.ndarray:
    """The largest ``TOP_PEAKS`` prominences z among the counted frequencies, sorted ascending."""
    import cv2

    prominence = log_power - cv2.medianBlur(log_power, 5)
    return largest(prominence[_counted(h, w)], TOP_PEAKS)


def peak_excesses(log_power: np.ndarray, h: int, w: int) -> np.ndarray:
    """The largest ``TOP_EXCESSES`` excesses e among the counted frequencies, sorted ascending.

    A screen photographed at an angle, through a lens, with perspective, spreads
    each of its lattice's peaks over several frequencies, which a 5x5 median
    swallows. So: ``e = box3(L) - background``, the 3x3 mean of L over its
    background, the median of L over about 40 x 40 frequencies (L area-averaged
    by ``BACKGROUND_BLOCK`` = 8, a 5x5 median, bilinear back to full size).
    """
    return largest(excess_map(log_power)[_counted(h, w)], TOP_EXCESSES)


def excess_map(log_power: np.ndarray) -> np.ndarray:
    """Each frequency's excess ``box3(L) - background`` (see ``peak_excesses``), float32."""
    import cv2

    rows, cols = log_power.shape
    small = cv2.resize(log_power, (max(1, cols // BACKGROUND_BLOCK), max(1, rows // BACKGROUND_BLOCK)),
                       interpolation=cv2.INTER_AREA)
    if min(small.shape) >= 5:
        small = cv2.medianBlur(small, 5)
    background = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR)
    excess = cv2.blur(log_power, (3, 3), borderType=cv2.BORDER_REFLECT_101)
    excess -= background
    return excess


def largest(values: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` largest values, sorted ascending (a single 0 for none)."""
    if not values.size:
        return np.zeros(1, np.float32)
    if values.size > k:  # only the largest few are used: no need to sort them all
        values = np.partition(values, values.size - k)[-k:]
    return np.sort(values)


# Most images share a handful of analysis sizes (1024 x 768, 768 x 1024, ...):
# their window and frequency mask are built once per worker.
@lru_cache(maxsize=16)
def hann_window(h: int, w: int) -> np.ndarray:
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
    version = 3
    columns = {"peak_prominence": "double", "peak_prominence_max": "double",
               "peak_excess": "double", "peak_excess_max": "double"}

    def calculate(self, image):
        h, w = image.grey.shape
        if h < 8 or w < 8:
            return dict.fromkeys(self.columns, 0.0)
        log_power = log_spectrum(image.grey)
        if not np.ptp(log_power):  # a flat image: no frequency stands out, exactly
            return dict.fromkeys(self.columns, 0.0)
        z = peak_prominences(log_power, h, w)
        e = peak_excesses(log_power, h, w)
        return {"peak_prominence": float(np.mean(z[-TOP_PEAKS:], dtype=np.float64)),
                "peak_prominence_max": float(z[-1]),
                "peak_excess": float(np.mean(e[-TOP_EXCESSES:], dtype=np.float64)),
                "peak_excess_max": float(e[-1])}
