"""Features by evidence: what each measure adds to validated accuracy, and what it costs.

Reads every metric column of every family at its current version for the
labelled images of an extracted training set (and, when given, a validation
set made by the other generator), then:

1. each candidate column alone, through its best transform: leave-one-photo-out
   accuracy on the training set;
2. greedy forward selection under leave-one-photo-out (the criterion the model
   is chosen by), printing at each step the accuracy on the training set and,
   for information only, on the validation set: the validation set is never
   used to choose (it would stop measuring the world and start fitting it);
3. the Pearson correlation of the chosen features within each class, since
   naive Bayes counts correlated evidence twice.

Usage: python bench/feature_evidence.py TRAIN_DB TRAIN_LABELS [--validation-db DB --validation-labels CSV]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "extract"))

# Columns that are not measures of quality (identifiers, sizes, hashes).
NOT_CANDIDATES = {"format", "width", "height", "colour_mode", "channels", "frames", "analysis_width",
                  "analysis_height", "pixel_hash", "perceptual_hash"}


def candidate_columns() -> list[str]:
    from image_quality.metrics import all_families

    return [c for f in all_families() for c, t in f.columns.items()
            if t == "double" and c not in NOT_CANDIDATES]


def load(db: str, labels: str, columns: list[str]):
    from image_quality.lab.training import read_features, read_labelled_groups

    labelled = read_labelled_groups(labels)
    found = read_features(db, [p for p, _, _ in labelled], columns)
    kept = [(p, y, g) for p, y, g in labelled if p in found]
    X = np.array([found[p] for p, _, _ in kept], dtype=np.float64)
    y = np.array([label for _, label, _ in kept], dtype=object)
    groups = np.array([g for _, _, g in kept], dtype=object)
    return X, y, groups, [p for p, _, _ in kept]


def best_transform(column: np.ndarray) -> str:
    """ln(x + 1) for a column that is non-negative and skewed, else identity."""
    if column.min() >= 0 and np.median(column) > 0 and column.max() / max(np.median(column), 1e-9) > 5:
        return "ln_x_plus_1"
    return "identity"


def transformed(X: np.ndarray, transforms: list[str]) -> np.ndarray:
    from image_quality.lab.training import transform_features

    return transform_features(X, transforms)


def lopo_accuracy(X, y, groups) -> float:
    from image_quality.lab.training import leave_one_group_out

    return leave_one_group_out(X, y, groups, sorted(set(y))).accuracy


def validation_accuracy(X_train, y_train, X_val, y_val) -> float:
    from sklearn.naive_bayes import GaussianNB

    return float((GaussianNB().fit(X_train, y_train).predict(X_val) == y_val).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train_db")
    parser.add_argument("train_labels")
    parser.add_argument("--validation-db")
    parser.add_argument("--validation-labels")
    parser.add_argument("--max-features", type=int, default=6)
    args = parser.parse_args()

    columns = candidate_columns()
    X, y, groups, _ = load(args.train_db, args.train_labels, columns)
    transforms = [best_transform(X[:, j]) for j in range(len(columns))]
    Xt = transformed(X, transforms)
    have_val = bool(args.validation_db and args.validation_labels)
    if have_val:
        Xv, yv, _, _ = load(args.validation_db, args.validation_labels, columns)
        Xvt = transformed(Xv, transforms)
    print(f"{len(y)} training images from {len(set(groups))} photographs"
          + (f"; {len(yv)} validation images" if have_val else ""))

    print("\n1. each column alone (leave-one-photo-out accuracy)")
    alone = sorted(((lopo_accuracy(Xt[:, [j]], y, groups), j) for j in range(len(columns))), reverse=True)
    for accuracy, j in alone:
        val = f"  validation {validation_accuracy(Xt[:, [j]], y, Xvt[:, [j]], yv):.3f}" if have_val else ""
        print(f"   {columns[j]:30s} {transforms[j]:12s} {accuracy:.3f}{val}")

    print("\n2. greedy forward selection by leave-one-photo-out accuracy")
    chosen: list[int] = []
    while len(chosen) < args.max_features:
        scores = [(lopo_accuracy(Xt[:, chosen + [j]], y, groups), j) for j in range(len(columns)) if j not in chosen]
        accuracy, j = max(scores)
        chosen.append(j)
        val = f"  validation {validation_accuracy(Xt[:, chosen], y, Xvt[:, chosen], yv):.3f}" if have_val else ""
        print(f"   + {columns[j]:30s} lopo {accuracy:.3f}{val}")

    print("\n3. correlation of the chosen features within each class")
    for label in sorted(set(y)):
        corr = np.corrcoef(Xt[y == label][:, chosen].T)
        worst = max(((abs(corr[a, b]), a, b) for a in range(len(chosen)) for b in range(a + 1, len(chosen))),
                    default=(0.0, 0, 0))
        print(f"   {label}: largest |r| {worst[0]:.2f} ({columns[chosen[worst[1]]]} ~ {columns[chosen[worst[2]]]})")


if __name__ == "__main__":
    main()
