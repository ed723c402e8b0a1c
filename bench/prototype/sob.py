# The seed's Sobel script, as on the slides (the slide hard-codes /tmp/ugc.jpg; we pass the file).
import sys

import cv2


def sob(f):
    img = cv2.imread(f)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    return cv2.Sobel(grey, cv2.CV_64F, 0, 1).var()


with open(sys.argv[2], "w") as f:
    f.write(str(sob(sys.argv[1])))
