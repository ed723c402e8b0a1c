"""Fingerprints for duplicates: exact pixels and a perceptual hash.

* ``pixel_hash``: SHA-256 (hex) of the grey analysis image's pixels with its
  width and height (see ``decoding``). Files whose bytes differ (metadata,
  container, lossless re-encoding) but decode to the same pixels share it.
* ``perceptual_hash``: the 64-bit DCT hash of imagehash's ``phash``: the grey
  analysis image resized to 32x32 (``INTER_AREA``), its 2-D DCT (``cv2.dct``,
  float32), the 8x8 lowest frequencies (DC included), each bit 1 where the
  coefficient exceeds their median; bits in row-major order, the first the
  most significant, stored as a signed 64-bit integer (two's complement), so
  the Hamming distance of two images is ``bit_count(a xor b)`` in SQL. A JPEG
  re-encode or a downscale stays within a few bits; different photos differ in
  about half of them.
"""

from __future__ import annotations

import hashlib

import numpy as np

from .base import MetricFamily

HASH_SIDE = 32
LOW_FREQUENCIES = 8


def perceptual_hash(grey: np.ndarray) -> int:
    import cv2

    small = cv2.resize(grey, (HASH_SIDE, HASH_SIDE), interpolation=cv2.INTER_AREA).astype(np.float32)
    low = cv2.dct(small)[:LOW_FREQUENCIES, :LOW_FREQUENCIES]
    bits = (low > np.median(low)).ravel()
    value = 0
    for bit in bits:
        value = (value << 1) | int(bit)
    return value - (1 << 64) if value >= 1 << 63 else value


class Fingerprint(MetricFamily):
    name = "fingerprint"
    table = "metric_fingerprint"
    version = 3
    columns = {"pixel_hash": "varchar", "perceptual_hash": "bigint"}

    def calculate(self, image):
        digest = hashlib.sha256(f"{image.width}x{image.height}:".encode())
        digest.update(np.ascontiguousarray(image.grey).tobytes())
        return {"pixel_hash": digest.hexdigest(), "perceptual_hash": perceptual_hash(image.grey)}
