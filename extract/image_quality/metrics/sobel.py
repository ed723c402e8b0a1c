"""Sobel gradients: the seed's second blur measure, with x and the magnitude added.

On the grey analysis image, with OpenCV's 3x3 Sobel aperture in CV_64F
(border BORDER_REFLECT_101) and population variances (ddof = 0):

* ``sobel_y_var``: var(cv2.Sobel(grey, CV_64F, 0, 1)), the seed's ``sob`` script;
* ``sobel_x_var``: var(cv2.Sobel(grey, CV_64F, 1, 0));
* ``sobel_magnitude_mean`` and ``sobel_magnitude_var``: mean and variance of
  sqrt(gx^2 + gy^2), which, unlike x or y alone, does not depend on edge direction.

Derivatives of 8-bit grey fit exactly in 16-bit integers (|value| <= 1020) and
meanStdDev accumulates in double, so the x and y variances equal the CV_64F
ones bit for bit; the magnitude's square root runs in float32, correctly
rounded (within 1e-7 relative of a float64 computation; measured about 1e-9
after averaging), so the same pixels give the same bits in any process.
"""

from __future__ import annotations

import numpy as np

from .base import MetricFamily


class Sobel(MetricFamily):
    name = "sobel"
    table = "metric_sobel"
    version = 3
    columns = {
        "sobel_x_var": "double",
        "sobel_y_var": "double",
        "sobel_magnitude_mean": "double",
        "sobel_magnitude_var": "double",
    }

    def calculate(self, image):
        import cv2

        gx, gy = image.sobel
        # |g| <= 1020, so squares and their sum are exact in float32 and IEEE sqrt rounds
        # correctly: the same bits in every process. (cv2.magnitude's float32 result
        # depends on how its buffers happen to be aligned, so it differs run to run.)
        magnitude = gx.astype(np.float32)
        magnitude *= magnitude
        squared_y = gy.astype(np.float32)
        squared_y *= squared_y
        magnitude += squared_y
        np.sqrt(magnitude, out=magnitude)
        _, sx = cv2.meanStdDev(gx)
        _, sy = cv2.meanStdDev(gy)
        m_mean, m_std = cv2.meanStdDev(magnitude)
        return {
            "sobel_x_var": float(sx[0, 0]) ** 2,
            "sobel_y_var": float(sy[0, 0]) ** 2,
            "sobel_magnitude_mean": float(m_mean[0, 0]),
            "sobel_magnitude_var": float(m_std[0, 0]) ** 2,
        }
