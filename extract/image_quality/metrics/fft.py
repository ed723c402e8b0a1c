"""High-frequency energy from the Fourier transform: the seed's third measure.

The seed's ``fft`` script, on the grey analysis image:

1. ``F = fft2(grey)``, shifted so that frequency zero sits at (h // 2, w // 2);
2. the low frequencies are zeroed in the centred square
   ``F[h//2 - 60 : h//2 + 60, w//2 - 60 : w//2 + 60]`` (half-size
   ``LOW_FREQUENCY_HALF_SIZE = 60`` px, at the analysis resolution; on an image
   under 120 px the square is clipped at the array's edges, where the seed's
   negative slice start would have wrapped around);
3. ``recon = ifft2(F)`` and ``fft_hf_mean = mean(20 * ln|recon|)``: natural
   logarithm as in the seed (so not decibels), over every pixel.

|recon| is floored at ``MAGNITUDE_FLOOR`` before the logarithm so that a flat
image (all its energy zeroed) gives a finite value instead of -inf. The
transform runs in single precision (scipy.fft, complex64); values agree with
the seed's float64 numpy code within 1e-5 relative (tested; measured about 1e-7). Low values: little
fine detail, i.e. blur; spectral peaks of moire raise it.
"""

from __future__ import annotations

import numpy as np

from .base import MetricFamily

LOW_FREQUENCY_HALF_SIZE = 60
MAGNITUDE_FLOOR = 1e-6


class Fft(MetricFamily):
    name = "fft"
    table = "metric_fft"
    version = 1
    columns = {"fft_hf_mean": "double"}

    def calculate(self, image):
        import scipy.fft

        grey = image.grey.astype(np.float32)
        spectrum = scipy.fft.fft2(grey)
        h, w = grey.shape
        # The seed's square, zeroed in place in the unshifted spectrum: the same
        # entries of the same array, without the two shift copies.
        spectrum[np.ix_(_unshifted(h), _unshifted(w))] = 0
        recon = scipy.fft.ifft2(spectrum, overwrite_x=True)
        magnitude = np.maximum(np.abs(recon), MAGNITUDE_FLOOR)
        log_magnitude = np.log(magnitude, out=magnitude)
        log_magnitude *= 20.0
        return {"fft_hf_mean": float(np.mean(log_magnitude, dtype=np.float64))}


def _unshifted(n: int) -> np.ndarray:
    """Indices, in the unshifted spectrum, of the shifted slice ``[max(c - r, 0) : c + r]``, c = n // 2.

    ``fftshift`` moves index i to (i + n // 2) mod n, so shifted index j holds
    unshifted index (j - n // 2) mod n.
    """
    centre, r = n // 2, LOW_FREQUENCY_HALF_SIZE
    return (np.arange(max(centre - r, 0), min(centre + r, n)) - centre) % n
