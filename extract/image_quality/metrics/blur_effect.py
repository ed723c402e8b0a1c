"""Blur effect: how much of an image's own edge contrast survives blurring it again.

Crete-Roffet, Dolmiere, Ladret and Nicolas, "The blur effect: perception and
estimation with a new no-reference perceptual blur metric" (SPIE 2007), the
measure scikit-image ships as ``skimage.measure.blur_effect``: a sharp image
loses much of its edge contrast when blurred, an image that is already blurred
loses little. The ratio is content-normalised: it compares the image with
itself, so a sharp photo of smooth content is not called blurry for having few
edges.

On the grey analysis image g (see ``decoding``), in float32, for each axis a
(horizontal, vertical):

* ``b = box(g, BOX_LENGTH = 11)`` along a (border: reflect, ``d c b a | a b c d``);
* ``S = |sobel_a(g)|`` and ``Sb = |sobel_a(b)|``: the 3x3 Sobel derivative
  along a (reflect border);
* ``M1 = sum S`` and ``M2 = sum max(0, S - Sb)`` over the pixels at least 2 from
  the first edge and 1 from the last (skimage's ``[2:-1]`` slice);
* ``B_a = |M1 - M2| / M1``.

Columns: ``blur_effect`` = max(B_horizontal, B_vertical), 0 (sharp) to 1
(blurred), equal to scikit-image's value within float32 rounding (tested);
``blur_effect_min`` = the smaller of the two (motion blur raises one axis
only). A flat image (M1 = 0), or one under 4 px a side, gives 0 for both.
"""

from __future__ import annotations

import numpy as np

from .base import MetricFamily

BOX_LENGTH = 11


class BlurEffect(MetricFamily):
    name = "blur_effect"
    table = "metric_blur_effect"
    version = 1
    columns = {"blur_effect": "double", "blur_effect_min": "double"}

    def calculate(self, image):
        per_axis = blur_effect_by_axis(image.grey)
        return {"blur_effect": max(per_axis), "blur_effect_min": min(per_axis)}


def blur_effect_by_axis(grey: np.ndarray) -> tuple[float, float]:
    """(B_horizontal, B_vertical) of a grey plane, as the module defines them."""
    import cv2

    h, w = grey.shape
    if h < 4 or w < 4:
        return 0.0, 0.0
    plane = grey.astype(np.float32)
    values = []
    for dx, dy, box in ((1, 0, (BOX_LENGTH, 1)), (0, 1, (1, BOX_LENGTH))):
        blurred = cv2.blur(plane, box, borderType=cv2.BORDER_REFLECT)
        sharp = cv2.Sobel(plane, cv2.CV_32F, dx, dy, borderType=cv2.BORDER_REFLECT)
        soft = cv2.Sobel(blurred, cv2.CV_32F, dx, dy, borderType=cv2.BORDER_REFLECT)
        np.abs(sharp, out=sharp)
        np.abs(soft, out=soft)
        m1 = cv2.sumElems(sharp[2:-1, 2:-1])[0]   # OpenCV sums in double
        if m1 <= 0.0:
            values.append(0.0)
            continue
        np.subtract(sharp, soft, out=soft)
        np.maximum(soft, 0.0, out=soft)
        m2 = cv2.sumElems(soft[2:-1, 2:-1])[0]
        values.append(abs(m1 - m2) / m1)
    return values[0], values[1]
