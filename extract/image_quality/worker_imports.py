"""What every worker process needs, imported once by the forkserver before it forks them.

``parallel`` names this module as the forkserver's preload: each worker then
starts with OpenCV, SciPy's FFT, Pillow and its format plugins and every
metric family already in memory, instead of importing them (about 0.3 s) on
its first file. Importing it has no other effect.
"""

import cv2  # noqa: F401
import scipy.fft  # noqa: F401
from PIL import Image

from .measuring import init_worker  # noqa: F401  (the pool's initializer)
from .metrics import all_families

Image.init()  # every Pillow format plugin, which Image.open would otherwise import on demand
all_families()
