"""Variance of the Laplacian: the seed's first blur measure.

``laplacian_var = var(cv2.Laplacian(grey, cv2.CV_64F))`` with OpenCV's default
3x3 aperture (kernel [[0,1,0],[1,-4,1],[0,1,0]], border BORDER_REFLECT_101) and
the population variance (ddof = 0), exactly the seed's ``vol`` script, on the
grey analysis image (see ``decoding``). Low values mean few edges: blur.

The Laplacian of 8-bit grey fits exactly in 16-bit integers (|value| <= 1020),
and meanStdDev accumulates in double, so computing in CV_16S gives the same
number as the seed's CV_64F, bit for bit, at a fraction of the memory traffic.
"""

from __future__ import annotations

from .base import MetricFamily


class Laplacian(MetricFamily):
    name = "laplacian"
    table = "metric_laplacian"
    version = 3
    columns = {"laplacian_var": "double"}

    def calculate(self, image):
        import cv2

        _, std = cv2.meanStdDev(cv2.Laplacian(image.grey, cv2.CV_16S))
        return {"laplacian_var": float(std[0, 0]) ** 2}
