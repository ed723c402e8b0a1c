"""Information: how much an image says, as the entropy of its grey levels.

``grey_entropy``: the Shannon entropy, in bits (0 to 8), of the 256-bin
histogram of the grey analysis image (see ``decoding``): -sum(p * log2(p)) over
levels with p > 0. A flat or nearly flat image (a blank page, a lens cap) is
near 0; photographs are usually above 6.
"""

from __future__ import annotations

import numpy as np

from .base import MetricFamily


class Information(MetricFamily):
    name = "information"
    table = "metric_information"
    version = 3
    columns = {"grey_entropy": "double"}

    def calculate(self, image):
        histogram = image.grey_histogram.astype(np.float64)
        p = histogram[histogram > 0] / histogram.sum()
        return {"grey_entropy": float(max(0.0, -(p * np.log2(p)).sum()))}
