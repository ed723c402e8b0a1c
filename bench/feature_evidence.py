"""Features by evidence on real photographs: what each measure adds, and what it costs.

The yardstick is the real set (lab/real_photographs.py: camera photographs no
one here made, outside the repository), always leave-one-source-out: each
source repository's photographs scored by a model that saw none of them. The
generators' figures are printed beside it, for information.

1. cost: each metric family's milliseconds per image (median of three passes
   over a sample of the real photographs, one thread, after one shared decode),
   and the decode's;
2. each candidate column alone: its one-vs-rest AUC for screens (moire) and
   for blur on the real set, and the real set's leave-one-source-out accuracy
   of a model on that column alone;
3. greedy forward selection by the real set's leave-one-source-out accuracy
   plus its lowest class recall (a model that gives up a class is no model),
   printing at each step the validation generator's accuracy for information
   only. The selection sees the real set, so its last figure flatters: the
   model card's figures come from `make quality`, for the model chosen;
4. the correlation of the chosen features within each class (naive Bayes
   counts correlated evidence twice).

``--fit`` says what each fold's model is fitted on: the other sources' real
photographs and the training generator's images (``both``, the default),
the real photographs alone (``real``) or the generator alone (``generator``).

Usage: python bench/feature_evidence.py [--work DIR] [--n 600] [--fit both|real|generator]
                                        [--max-features 5] [--photographs installed|shipped]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
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


def extracted(folder: Path, db: Path) -> str:
    from image_quality.loader import extract

    extract([str(folder)], db_path=str(db))
    return str(db)


def features_of(db: str, labelled: list[tuple[str, str, str]], columns: list[str]):
    from image_quality.lab.training import read_features

    found = read_features(db, [p for p, _, _ in labelled], columns)
    kept = [(p, y, g) for p, y, g in labelled if p in found]
    return (np.array([found[p] for p, _, _ in kept], dtype=np.float64),
            np.array([y for _, y, _ in kept], dtype=object), np.array([g for _, _, g in kept], dtype=object))


def family_costs(paths: list[str], sample: int = 40) -> tuple[float, dict[str, float]]:
    """Milliseconds per image: the decode, and each family given that decode (one thread)."""
    import cv2

    from image_quality.decoding import AnalysisImage, decode
    from image_quality.metrics import all_families

    cv2.setNumThreads(1)
    data = [Path(p).read_bytes() for p in paths[::max(1, len(paths) // sample)]]
    decode_runs, images = [], []
    for _ in range(3):
        started = time.perf_counter()
        images = [decode(d) for d in data]
        decode_runs.append((time.perf_counter() - started) / len(data) * 1e3)
    costs = {}
    for family in all_families():
        runs = []
        for _ in range(3):
            fresh = [AnalysisImage(i.header, i.grey, i.decoded_grey, i.is_jpeg) for i in images]
            started = time.perf_counter()
            for image in fresh:
                family.calculate(image)
            runs.append((time.perf_counter() - started) / len(fresh) * 1e3)
        costs[family.name] = statistics.median(runs)
    return statistics.median(decode_runs), costs


def main() -> None:
    from image_quality.lab import real_photographs
    from image_quality.lab.training import leave_one_group_out, read_labelled_groups
    from image_quality.metrics import all_families

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "bench" / "out" / "evidence")
    parser.add_argument("--n", type=int, default=600, help="training generator images")
    parser.add_argument("--fit", choices=("both", "real", "generator"), default="both")
    parser.add_argument("--max-features", type=int, default=5)
    parser.add_argument("--photographs", choices=("installed", "shipped"), default="installed")
    args = parser.parse_args()

    root = real_photographs.locate(REPO)
    if root is None:
        raise SystemExit(f"no real set: set ${real_photographs.REALDEV_ENV} or place it at "
                         f"{REPO / real_photographs.DEFAULT_LOCATION}")
    args.work.mkdir(parents=True, exist_ok=True)
    columns = candidate_columns()
    photos = real_photographs.read_set(root)
    real_db = extracted(root / "images", args.work / "real.duckdb")
    Xr, yr, sources = features_of(real_db, [(p.path, p.label, p.source) for p in photos], columns)

    from image_quality.lab.demo_data import write_demo_set
    from image_quality.lab.validation_data import write_validation_set

    train_dir, val_dir = args.work / "train", args.work / "validation"
    if not (train_dir / "labels.csv").exists():
        write_demo_set(str(train_dir), n=args.n, seed=0, shipped_only=args.photographs == "shipped")
    if not (val_dir / "labels.csv").exists():
        write_validation_set(str(val_dir), n=300, seed=11)
    Xg, yg, _ = features_of(extracted(train_dir, args.work / "train.duckdb"),
                            read_labelled_groups(str(train_dir / "labels.csv")), columns)
    Xv, yv, _ = features_of(extracted(val_dir, args.work / "validation.duckdb"),
                            read_labelled_groups(str(val_dir / "labels.csv")), columns)
    classes = sorted(set(yr))
    print(f"real set: {len(yr)} photographs from {len(set(sources))} sources "
          f"({', '.join(f'{c} {int((yr == c).sum())}' for c in classes)}); training generator {len(yg)} images; "
          f"validation generator {len(yv)}; folds fitted on: {args.fit}")

    def real_figures(cols: list[int]):
        if args.fit == "generator":
            return _fixed_model_figures(Xg[:, cols], yg, Xr[:, cols], yr, classes)
        also = (Xg[:, cols], yg) if args.fit == "both" else None
        return leave_one_group_out(Xr[:, cols], yr, sources, classes, also_fit=also)

    def validation_accuracy(cols: list[int]) -> float:
        return _fixed_model_figures(Xg[:, cols], yg, Xv[:, cols], yv, classes).accuracy

    decode_ms, costs = family_costs([p.path for p in photos])
    owner = {c: f.name for f in all_families() for c in f.columns}
    print(f"\n1. cost, ms per image on this machine (one thread): decode {decode_ms:.1f}")
    for name, ms in sorted(costs.items(), key=lambda kv: -kv[1]):
        print(f"   {name:24s} {ms:6.2f}")

    from sklearn.metrics import roc_auc_score

    print("\n2. each column alone: real set AUC (screens, blur; one vs rest), "
          "leave-one-source-out accuracy and lowest recall")
    rows = []
    for j, column in enumerate(columns):
        aucs = [roc_auc_score(yr == c, Xr[:, j]) for c in ("moire", "blurry")]
        ev = real_figures([j])
        rows.append((ev.accuracy, column, aucs, min(ev.accuracy_by_class.values())))
    for accuracy, column, aucs, lowest in sorted(rows, reverse=True):
        print(f"   {column:30s} ({owner[column]:21s}) AUC {aucs[0]:.3f} {aucs[1]:.3f}  "
              f"accuracy {accuracy:.3f}  lowest recall {lowest:.2f}")

    print("\n3. greedy forward selection (real set, leave-one-source-out: accuracy + lowest recall)")
    chosen: list[int] = []
    while len(chosen) < args.max_features:
        best = None
        for j in range(len(columns)):
            if j in chosen:
                continue
            ev = real_figures(chosen + [j])
            score = ev.accuracy + min(ev.accuracy_by_class.values())
            if best is None or score > best[0]:
                best = (score, j, ev)
        chosen.append(best[1])
        ev = best[2]
        recalls = " ".join(f"{c} {ev.accuracy_by_class[c]:.2f}" for c in classes)
        print(f"   + {columns[best[1]]:28s} real {ev.accuracy:.3f} ({recalls})  "
              f"validation generator {validation_accuracy(chosen):.3f}")

    print("\n4. correlation of the chosen features within each class (real set)")
    for label in classes:
        corr = np.corrcoef(Xr[yr == label][:, chosen].T)
        worst = max(((abs(corr[a, b]), a, b) for a in range(len(chosen)) for b in range(a + 1, len(chosen))),
                    default=(0.0, 0, 0))
        print(f"   {label}: largest |r| {worst[0]:.2f} ({columns[chosen[worst[1]]]} ~ {columns[chosen[worst[2]]]})")


def _fixed_model_figures(X_fit, y_fit, X, y, classes):
    from image_quality.lab.evaluation import Evaluation
    from image_quality.lab.training import fit_gaussian_nb

    model = fit_gaussian_nb(X_fit, y_fit)
    proba = model.predict_proba(X)
    order = [list(model.classes_).index(c) for c in classes]
    return Evaluation.from_probabilities(list(y), proba[:, order], classes)


if __name__ == "__main__":
    main()
