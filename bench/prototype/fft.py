# The seed's FFT script, with the middle the slide elides (the pyimagesearch code it cites).
import sys

import cv2
import numpy as np


def fft(f, size=60):
    img = cv2.imread(f)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    (h, w) = grey.shape
    (cX, cY) = (int(w / 2.0), int(h / 2.0))
    img_fft = np.fft.fft2(grey)
    fftShift = np.fft.fftshift(img_fft)
    fftShift[cY - size:cY + size, cX - size:cX + size] = 0
    recon = np.fft.ifft2(fftShift)
    magnitude = 20 * np.log(np.abs(recon))
    mean = np.mean(magnitude)
    return mean


with open(sys.argv[2], "w") as f:
    f.write(str(fft(sys.argv[1])))
