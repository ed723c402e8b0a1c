# The seed's classifier script: read the three metric files, predict with a GaussianNB.
# The model is a pickled sklearn GaussianNB over (vol, sob, fft), made by bench/run_bench.py.
import os
import pickle
import sys

from sklearn.naive_bayes import GaussianNB  # noqa: F401  (the slide's import; unpickling needs it)

with open(os.environ["PROTOTYPE_MODEL"], "rb") as m:
    clf = pickle.load(m)
with open(sys.argv[1]) as vol, open(sys.argv[2]) as sob, open(sys.argv[3]) as fft, open(sys.argv[4], "w") as cls:
    cls.write(str(clf.predict([[float(vol.read()), float(sob.read()), float(fft.read())]])[0]))
