"""The log power spectrum and its excess over a smooth background: shared spectral steps.

Not a family (it defines none): ``screen_texture`` measures with it.

* ``log_spectrum``: ``L = ln(|rfft2(hann * (plane - mean))|^2 + POWER_FLOOR)``
  in float32, a 2-D Hann window, rows shifted so that frequency 0 is central;
* ``excess_map``: each frequency's ``box3(L) - B``, the 3x3 mean of L over its
  background B: the median of L over about 40 x 40 frequencies (L area-averaged
  by ``BACKGROUND_BLOCK = 8``, a 5x5 median, bilinear back to full size). A
  periodic structure seen at an angle, through a lens, with perspective
  spreads its peaks over several frequencies; they still stand out of B.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

MIN_RADIUS = 0.04      # cycles/px: lower frequencies are the scene's, not a grid's
AXIS_GAP = 2           # bins: image borders put lines on both axes
TOP_EXCESSES = 25
BACKGROUND_BLOCK = 8
POWER_FLOOR = 1e-3


def log_spectrum(plane: np.ndarray) -> np.ndarray:
    """``L = ln(|rfft2(hann * (plane - mean))|^2 + POWER_FLOOR)``, rows shifted so frequency 0 is central."""
    import scipy.fft

    h, w = plane.shape
    values = plane.astype(np.float32)
    values -= values.mean()
    values *= hann_window(h, w)
    power = np.abs(scipy.fft.rfft2(values)) ** 2
    return np.ascontiguousarray(np.fft.fftshift(np.log(power + POWER_FLOOR).astype(np.float32), axes=0))


def excess_map(log_power: np.ndarray) -> np.ndarray:
    """Each frequency's excess ``box3(L) - background`` (see the module), float32."""
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


# Most planes share a handful of sizes: each window is built once per worker.
@lru_cache(maxsize=16)
def hann_window(h: int, w: int) -> np.ndarray:
    window = np.outer(np.hanning(h), np.hanning(w)).astype(np.float32)
    window.flags.writeable = False  # shared by every later call: no one may change it
    return window
