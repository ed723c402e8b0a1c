"""The quality model's per-feature transforms, as the scoring SQL computes them.

A model is exported with a transform name per feature
(``seeds/gaussian_nb_params.csv``, column ``feature_transform``); the
``feature_transform`` macro computes it in SQL and these are its Python twins,
written the way SQL writes them (``ln(x + 1)``, not ``log1p``), so training,
the report's plots and the SQL see the same numbers.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

# Transform name -> the Python twin of the SQL in macros/feature_transform.sql.
TRANSFORMS = {
    "identity": lambda x: np.asarray(x, dtype=np.float64),
    "ln_x_plus_1": lambda x: np.log(np.asarray(x, dtype=np.float64) + 1.0),
}


def transform_features(X: np.ndarray, transforms: Sequence[str]) -> np.ndarray:
    """Apply each column's transform, as the scoring SQL does."""
    X = np.asarray(X, dtype=np.float64)
    out = np.empty_like(X)
    for j, name in enumerate(transforms):
        if name not in TRANSFORMS:
            raise ValueError(f"unknown feature transform {name!r}; known: {sorted(TRANSFORMS)}")
        out[:, j] = TRANSFORMS[name](X[:, j])
    return out
