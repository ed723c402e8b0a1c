# The seed's variance-of-Laplacian script, as on the slides: one process per image.
import sys

import cv2


def vol(f):
    img = cv2.imread(f)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return cv2.Laplacian(grey, cv2.CV_64F).var()


with open(sys.argv[2], "w") as f:
    f.write(str(vol(sys.argv[1])))
