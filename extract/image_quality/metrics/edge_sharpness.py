"""Edge sharpness: how steep an image's edges are, judged against those edges alone.

Blur widens edges; content decides how many edges there are. A sharp photo of
smooth content (the moon, skin, sky, a microscope slide, a page with wide
margins) has few edges, which makes every whole-image measure (Laplacian,
Sobel, FFT) call it blurry. So this family measures at edges only, as a ratio
of two scales, which no amount of content changes, and it knows the noise.

On the grey analysis image g0 (see ``decoding``) and g1 = ``cv2.pyrDown(g0)``,
float32, with 3x3 Sobel derivatives divided by 8 (a ramp of slope s gives s):

* m1 = |gradient of g1| (slope per coarse pixel), and m0 = |gradient of g0|,
  its largest value in the 3x3 neighbourhood of fine pixel (2i, 2j), which
  is where g1's pixel (i, j) sits (a centred window: a mirror changes the
  measure by 0.06 at most, a 2x2 block's by 0.3);
* noise: ``noise_sigma``, Immerkaer's estimator on g0: the median of
  |g0 * [[1,-2,1],[-2,4,-2],[1,-2,1]]| / (0.6745 * 6) grey levels (the filter
  cancels any plane, so what it sees is noise and the finest texture);
* edge pixels: coarse pixels with m1 at least the ``EDGE_QUANTILE`` (0.9)
  quantile of m1 and at least ``NOISE_MULTIPLE`` (2) times noise_sigma;
* at each edge pixel ``r = log2(m0 / m1)``: about 0 for a step edge (sharp at
  both scales) and -1 for an edge blurred over many pixels (its slope per
  pixel halves with the pixel size).

Columns:

* ``edge_sharpness``: the median r over the edge pixels;
* ``edge_sharpness_min_direction``: the smallest median r among four bins of
  gradient direction (0, 45, 90, 135 degrees, +-22.5) holding at least
  ``MIN_EDGE_PIXELS`` (50) edge pixels: motion blur widens only the edges
  across its direction. Equal to ``edge_sharpness`` when no bin has enough;
* ``edge_density``: the share of coarse pixels that are edge pixels;
* ``noise_sigma``.

A flat image, or one whose sides are under 8 px, has no edges: sharpness 0,
density 0.
"""

from __future__ import annotations

import numpy as np

from .base import MetricFamily

EDGE_QUANTILE = 0.9
NOISE_MULTIPLE = 2.0
MIN_EDGE_PIXELS = 50
DIRECTION_BINS = 4
_MAD_TO_SIGMA = 0.6745 * 6.0   # |N * noise| has a median of 0.6745 * 6 sigma for Gaussian noise
_BLOCK = np.ones((3, 3), np.uint8)
_LAPLACE_PLUS = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)


class EdgeSharpness(MetricFamily):
    name = "edge_sharpness"
    table = "metric_edge_sharpness"
    version = 2
    columns = {
        "edge_sharpness": "double",
        "edge_sharpness_min_direction": "double",
        "edge_density": "double",
        "noise_sigma": "double",
    }

    def calculate(self, image):
        return edge_measures(image)


def noise_sigma(grey: np.ndarray) -> float:
    """Immerkaer's noise estimate (grey levels), robust to edges through the median."""
    import cv2

    if min(grey.shape) < 3:
        return 0.0
    response = cv2.filter2D(grey, cv2.CV_16S, _LAPLACE_PLUS, borderType=cv2.BORDER_REFLECT_101)
    magnitude = cv2.convertScaleAbs(response, alpha=0.25)  # |r| / 4, to 0-255 (|r| <= 4080 / 4 = 1020: saturates)
    histogram = cv2.calcHist([magnitude], [0], None, [256], [0, 256]).ravel()
    median = _histogram_median(histogram)
    return float(median * 4.0 / _MAD_TO_SIGMA)


def _histogram_median(histogram: np.ndarray) -> float:
    """The median of integer samples given by their counts, interpolated within its bin."""
    cumulative = np.cumsum(histogram, dtype=np.float64)
    half = cumulative[-1] / 2.0
    level = int(np.searchsorted(cumulative, half, side="left"))
    below = cumulative[level - 1] if level else 0.0
    return level - 0.5 + (half - below) / max(histogram[level], 1.0)


def edge_measures(image) -> dict[str, float]:
    """The family's columns for an AnalysisImage (its shared gradients and octave)."""
    import cv2

    grey = image.grey
    sigma = noise_sigma(grey)
    empty = {"edge_sharpness": 0.0, "edge_sharpness_min_direction": 0.0, "edge_density": 0.0,
             "noise_sigma": sigma}
    h, w = grey.shape
    if h < 8 or w < 8:
        return empty
    gx, gy = image.sobel
    cx, cy = _slopes(image.coarse)
    ch, cw = h // 2, w // 2
    cx, cy = cx[:ch, :cw], cy[:ch, :cw]
    m1 = _magnitude(cx, cy)
    # the fine scale's squared slope (exact in float32 from int16 Sobel sums), its largest value
    # around each coarse pixel by a centred 3x3 dilation, and square roots only where they are used
    fine_x, fine_y = gx.astype(np.float32), gy.astype(np.float32)
    fine_x *= fine_x
    fine_y *= fine_y
    fine_x += fine_y
    block_max_sq = cv2.dilate(fine_x, _BLOCK, borderType=cv2.BORDER_REPLICATE)[0:2 * ch:2, 0:2 * cw:2]

    threshold = max(float(np.quantile(m1, EDGE_QUANTILE)), NOISE_MULTIPLE * sigma, 1e-3)
    edges = m1 >= threshold
    count = int(np.count_nonzero(edges))
    if count == 0:
        return empty
    fine_slope = np.sqrt(block_max_sq[edges]) * np.float32(0.125)   # Sobel / 8: slope per pixel
    ratio = np.log2(np.maximum(fine_slope, 1e-6) / m1[edges])
    overall = float(np.median(ratio))
    angle = np.arctan2(cy[edges], cx[edges])
    bins = np.floor((angle % np.pi) / (np.pi / DIRECTION_BINS) + 0.5).astype(np.intp) % DIRECTION_BINS
    per_direction = [float(np.median(ratio[bins == b])) for b in range(DIRECTION_BINS)
                     if np.count_nonzero(bins == b) >= MIN_EDGE_PIXELS]
    return {
        "edge_sharpness": overall,
        "edge_sharpness_min_direction": min(per_direction) if per_direction else overall,
        "edge_density": count / float(ch * cw),
        "noise_sigma": sigma,
    }


def _slopes(plane: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(gx, gy): 3x3 Sobel derivatives scaled to slope per pixel."""
    import cv2

    return cv2.Sobel(plane, cv2.CV_32F, 1, 0, scale=0.125), cv2.Sobel(plane, cv2.CV_32F, 0, 1, scale=0.125)


def _magnitude(gx: np.ndarray, gy: np.ndarray) -> np.ndarray:
    # numpy's correctly rounded float32 sqrt: the same bits in every process
    # (cv2.magnitude's result depends on how its buffers happen to be aligned)
    squared = gx * gx
    squared += gy * gy
    return np.sqrt(squared, out=squared)
