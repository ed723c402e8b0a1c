"""What the image is: size, colour mode, format and brightness.

From the header (as stored, but with width and height as displayed after EXIF
orientation): ``format``, ``width``, ``height``, ``colour_mode`` (Pillow's mode
name), ``channels``, ``frames``. From the grey analysis image (see ``decoding``):
``analysis_width``, ``analysis_height``, and brightness on the 0-255 grey scale:
``brightness_mean``, and ``brightness_p01`` / ``brightness_p99``, the 1st and
99th percentiles by nearest rank (the smallest grey level whose cumulative share
of pixels reaches 1% / 99%).
"""

from __future__ import annotations

import numpy as np

from .base import MetricFamily


def nearest_rank_percentile(histogram: np.ndarray, fraction: float) -> int:
    """The smallest level whose cumulative count reaches ``fraction`` of all counts."""
    cumulative = np.cumsum(histogram)
    return int(np.searchsorted(cumulative, fraction * cumulative[-1], side="left"))


class ImageProperties(MetricFamily):
    name = "image_properties"
    table = "image_properties"
    version = 3
    columns = {
        "format": "varchar",
        "width": "integer",
        "height": "integer",
        "colour_mode": "varchar",
        "channels": "integer",
        "frames": "integer",
        "analysis_width": "integer",
        "analysis_height": "integer",
        "brightness_mean": "double",
        "brightness_p01": "double",
        "brightness_p99": "double",
    }

    def calculate(self, image):
        histogram = image.grey_histogram.astype(np.float64)
        levels = np.arange(256, dtype=np.float64)
        header = image.header
        return {  # header values typed here; decoding.read_header has bounded them
            "format": str(header.format),
            "width": int(header.width),
            "height": int(header.height),
            "colour_mode": str(header.colour_mode),
            "channels": int(header.channels),
            "frames": int(header.frames),
            "analysis_width": image.width,
            "analysis_height": image.height,
            "brightness_mean": float(histogram @ levels / histogram.sum()),
            "brightness_p01": float(nearest_rank_percentile(histogram, 0.01)),
            "brightness_p99": float(nearest_rank_percentile(histogram, 0.99)),
        }
