"""The generators beside real photographs, judged by the features the model uses.

Extracts three labelled sets with the real loader (``image_quality.loader.extract``),
each into its own DuckDB under ``--work`` (default ``build/generator_vs_real``):

* the real photographs, if present: ``$IMAGE_QUALITY_REALDEV``, default
  ``../shared/realdev`` beside the repository (``labels.csv`` with
  ``file,label,...``). They are read in place and never copied;
* a training-generator set (``lab/demo_data.py``, all installed photographs,
  as ``make train`` makes it), made afresh on every run;
* a validation-generator set (``lab/validation_data.py``), made once and kept.

Then prints, per class, the 10th / 50th / 90th percentiles of the model's
candidate features side by side (real / training generator / validation
generator), and the accuracy and per-class recall on the real set of a
GaussianNB fitted on the training generator's set (``--model-features``), with
the real photographs it gets wrong. The validation generator's figures are
shown for information: neither it nor the real set is fitted on.

``--contact-sheets DIR`` writes a contact sheet per class of each generator set
into DIR, and of the real set into the work folder under build/ only (the real
photographs carry no licence: never commit a picture of them).

Usage: python bench/generator_vs_real.py [--n 300] [--seed 0] [--validation-n 150]
       [--contact-sheets build/sheets]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "extract"))
sys.path.insert(0, str(REPO / "bench"))

CLASSES = ("sharp", "blurry", "moire")
FEATURES = ("dir_sharpness_min", "texture_excess_max", "texture_excess_mean", "blur_effect",
            "blur_effect_min")
VALIDATION_SEED = 20261207
REAL_SHEETS = REPO / "build" / "generator_vs_real" / "real_sheets"   # git-ignored: never commit them


def realdev_folder() -> Path:
    return Path(os.environ.get("IMAGE_QUALITY_REALDEV", REPO.parent / "shared" / "realdev")).resolve()


def real_labels(folder: Path) -> list[tuple[str, str, str]]:
    """(absolute path, label, note) per real photograph."""
    from image_quality.sources.local import normalise_path

    with (folder / "labels.csv").open(newline="") as fh:
        return [(normalise_path(str(folder / row["file"])), row["label"], row.get("note") or "")
                for row in csv.DictReader(fh)]


def generated_labels(labels_csv: Path) -> list[tuple[str, str, str]]:
    """(absolute path, label, degradation) per generated image."""
    from image_quality.sources.local import normalise_path

    with labels_csv.open(newline="") as fh:
        return [(normalise_path(str(labels_csv.parent / row["path"])), row["label"], row["degradation"])
                for row in csv.DictReader(fh)]


def extract(folder: Path, db: Path, workers: int) -> float:
    from image_quality.loader import extract as run_extract

    started = time.monotonic()
    run_extract([str(folder)], db_path=str(db), workers=workers)
    return time.monotonic() - started


def features(db: Path, rows: list[tuple[str, str, str]]):
    """X (rows x FEATURES), labels and notes of the rows that have every feature."""
    from image_quality.lab.training import read_features

    found = read_features(str(db), [p for p, _, _ in rows], list(FEATURES))
    kept = [r for r in rows if r[0] in found]
    X = np.array([found[p] for p, _, _ in kept], dtype=np.float64).reshape(len(kept), len(FEATURES))
    return X, np.array([label for _, label, _ in kept], dtype=object), kept


def percentile_table(sets: dict[str, tuple]) -> list[str]:
    names = list(sets)
    lines = [f"{'feature':20s} {'class':7s} " + " ".join(f"{n + ' p10/p50/p90':>27s}" for n in names)]
    for j, feature in enumerate(FEATURES):
        for c in CLASSES:
            cells = []
            for n in names:
                X, y, _ = sets[n]
                v = X[y == c, j] if len(X) else np.array([])
                cells.append("{:>27s}".format(
                    " / ".join(f"{q:6.2f}" for q in np.percentile(v, (10, 50, 90))) + f" ({len(v):3d})"
                    if len(v) else "-"))
            lines.append(f"{feature:20s} {c:7s} " + " ".join(cells))
        lines.append("")
    return lines


def model_lines(train, real, model_features, title) -> list[str]:
    from sklearn.naive_bayes import GaussianNB

    cols = [FEATURES.index(f) for f in model_features]
    Xt, yt, _ = train
    Xr, yr, rows = real
    if not len(Xr):
        return [f"{title}: no images"]
    model = GaussianNB().fit(Xt[:, cols], yt)
    predicted = model.predict(Xr[:, cols])
    lines = [f"{title}: GaussianNB on ({', '.join(model_features)}) fitted on the training generator",
             f"  accuracy {np.mean(predicted == yr):.3f} ({int(np.sum(predicted == yr))} of {len(yr)})",
             "  recall   " + "  ".join(f"{c} {np.mean(predicted[yr == c] == c):.2f} "
                                         f"({int(np.sum(predicted[yr == c] == c))}/{int(np.sum(yr == c))})"
                                         for c in CLASSES if np.any(yr == c)),
             "  confusion (rows true, columns predicted: " + ", ".join(CLASSES) + ")"]
    for c in CLASSES:
        lines.append(f"    {c:7s} " + " ".join(f"{int(np.sum((yr == c) & (predicted == p))):4d}" for p in CLASSES))
    return lines


def misses(train, real, model_features) -> list[str]:
    from sklearn.naive_bayes import GaussianNB

    cols = [FEATURES.index(f) for f in model_features]
    model = GaussianNB().fit(train[0][:, cols], train[1])
    Xr, yr, rows = real
    predicted = model.predict(Xr[:, cols])
    lines = []
    for (path, label, note), p, x in zip(rows, predicted, Xr[:, cols]):
        if p != label:
            values = " ".join(f"{v:6.2f}" for v in x)
            lines.append(f"  {label:6s} -> {p:6s} [{values}] {Path(path).name}: {note[:70]}")
    return lines


def contact_sheets(rows: list[tuple[str, str, str]], out_dir: Path, prefix: str, per_class: int) -> None:
    """One sheet per class: each image downscaled beside its 100 % centre crop."""
    import cv2
    from contact_sheet import pair

    out_dir.mkdir(parents=True, exist_ok=True)
    for c in CLASSES:
        chosen = [r for r in rows if r[1] == c][:per_class]
        if not chosen:
            continue
        pairs = [pair(Path(p), c) for p, _, _ in chosen]
        lines = []
        for i in range(0, len(pairs), 3):
            row = pairs[i:i + 3]
            row += [np.full_like(pairs[0], 255)] * (3 - len(row))
            lines.append(np.hstack(row))
        cv2.imwrite(str(out_dir / f"{prefix}_{c}.png"), np.vstack(lines))


def main() -> None:
    from image_quality.lab.training import DEFAULT_FEATURES

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=300, help="training-generator images (default 300)")
    parser.add_argument("--seed", type=int, default=0, help="training-generator seed (default 0)")
    parser.add_argument("--validation-n", type=int, default=150, help="validation-generator images (default 150)")
    parser.add_argument("--work", type=Path, default=REPO / "build" / "generator_vs_real")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--photographs", choices=("shipped", "installed"), default="installed")
    parser.add_argument("--model-features", default=",".join(DEFAULT_FEATURES),
                        help="the model's features by default")
    parser.add_argument("--contact-sheets", type=Path, metavar="DIR",
                        help="write generator contact sheets here (the real set's go under --work)")
    parser.add_argument("--per-class", type=int, default=12)
    parser.add_argument("--show-misses", action="store_true", help="list the real photographs the model gets wrong")
    args = parser.parse_args()
    from image_quality.lab.demo_data import write_demo_set
    from image_quality.lab.validation_data import write_validation_set

    work = args.work.resolve()
    work.mkdir(parents=True, exist_ok=True)
    model_features = tuple(args.model_features.split(","))
    sets: dict[str, tuple] = {}
    rows_of: dict[str, list] = {}

    real = realdev_folder()
    if (real / "labels.csv").is_file():
        seconds = extract(real / "images", work / "real.duckdb", args.workers)
        rows_of["real"] = real_labels(real)
        sets["real"] = features(work / "real.duckdb", rows_of["real"])
        print(f"real set: {len(sets['real'][1])} photographs from {real} (extract {seconds:.0f} s)")
    else:
        print(f"real set: absent ({real}/labels.csv not found; set IMAGE_QUALITY_REALDEV)")

    train_dir = work / f"train_n{args.n}_s{args.seed}"
    shutil.rmtree(train_dir, ignore_errors=True)
    (work / "train.duckdb").unlink(missing_ok=True)
    started = time.monotonic()
    labels = write_demo_set(str(train_dir), n=args.n, seed=args.seed,
                            shipped_only=args.photographs == "shipped", workers=args.workers)
    made = time.monotonic() - started
    seconds = extract(train_dir, work / "train.duckdb", args.workers)
    rows_of["train gen"] = generated_labels(labels)
    sets["train gen"] = features(work / "train.duckdb", rows_of["train gen"])
    print(f"training generator: {args.n} images, seed {args.seed}, made in {made:.0f} s, extracted in {seconds:.0f} s")

    val_dir = work / f"validation_n{args.validation_n}_s{VALIDATION_SEED}"
    if args.validation_n:
        if not (val_dir / "labels.csv").is_file():
            shutil.rmtree(val_dir, ignore_errors=True)
            write_validation_set(str(val_dir), n=args.validation_n, seed=VALIDATION_SEED)
        extract(val_dir, work / "validation.duckdb", args.workers)
        rows_of["valid gen"] = generated_labels(val_dir / "labels.csv")
        sets["valid gen"] = features(work / "validation.duckdb", rows_of["valid gen"])

    print()
    print("\n".join(percentile_table(sets)))
    if "real" in sets:
        print("\n".join(model_lines(sets["train gen"], sets["real"], model_features, "real set")))
        if args.show_misses:
            print("\n".join(misses(sets["train gen"], sets["real"], model_features)))
    if "valid gen" in sets:
        print("\n".join(model_lines(sets["train gen"], sets["valid gen"], model_features,
                                    "validation generator (information only)")))
    if args.contact_sheets:
        contact_sheets(rows_of["train gen"], args.contact_sheets, "train_gen", args.per_class)
        if "valid gen" in rows_of:
            contact_sheets(rows_of["valid gen"], args.contact_sheets, "valid_gen", args.per_class)
        if "real" in rows_of:  # never beside the repository's files: build/ is git-ignored
            contact_sheets(rows_of["real"], REAL_SHEETS, "real", args.per_class)
        print(f"contact sheets in {args.contact_sheets}; the real set's in {REAL_SHEETS}")


if __name__ == "__main__":
    main()
