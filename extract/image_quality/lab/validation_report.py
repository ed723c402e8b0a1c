"""How the shipped model does on the validation generator's set: accuracy, recall per size band, confusion.

The set comes from ``validation_data`` (other physics than training's, some
scenes never trained on), goes through the real loader and the real
``dbt build`` with the shipped seed, and is read back from
``marts.image_quality``. Classes are the model's own (the ``p_<class>``
columns of the mart), so a retrained model with other classes needs no edit.
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

VALIDATION_SEED = 20261201
VALIDATION_N = 600
# (name, lowest long side, first long side above the band), in pixels of the stored image
SIZE_BANDS = (("under 500 px", 0, 500), ("500-1500 px", 500, 1501), ("over 1500 px", 1501, 10 ** 9))


@dataclass
class ValidationFigures:
    evaluation: "object"                        # evaluation.Evaluation over every scored image
    recall_by_band: dict[str, dict[str, tuple[int, int]]]   # band -> class -> (recalled, images)
    accuracy_by_scenes: dict[str, tuple[int, int]]          # "train" / "validation" scenes -> (right, images)
    recall_by_kind: dict[str, tuple[int, int]]              # how an image was made (sharp_smooth, ...) -> (recalled, images)
    seed: int
    labelled: int

    def markdown_lines(self) -> list[str]:
        ev = self.evaluation
        lines = [f"The validation generator's set (`image-quality validation-data`, seed {self.seed}): "
                 f"{ev.n} of {self.labelled} labelled images scored by dbt with the shipped model.", ""]
        lines += ev.markdown_lines()
        classes = ev.classes
        lines += ["", "Recall per class and size band (long side of the stored image):", "",
                  "| size band | " + " | ".join(classes) + " | images |",
                  "| --- | " + " | ".join("---:" for _ in classes) + " | ---: |"]
        for band, _, _ in SIZE_BANDS:
            cells = self.recall_by_band.get(band, {})
            lines.append(f"| {band} | " + " | ".join(_ratio(*cells.get(c, (0, 0))) for c in classes)
                         + f" | {sum(t for _, t in cells.values())} |")
        lines += ["", "| scenes | accuracy | images |", "| --- | ---: | ---: |"]
        lines += [f"| {split} scenes{' (never trained on)' if split == 'validation' else ''} | {_ratio(r, t)} | {t} |"
                  for split, (r, t) in sorted(self.accuracy_by_scenes.items())]
        if self.recall_by_kind:
            lines += ["", "Recall per way of making the image (`degradation` in labels.csv):", "",
                      "| made as | recall | images |", "| --- | ---: | ---: |"]
            lines += [f"| {kind} | {_ratio(r, t)} | {t} |" for kind, (r, t) in sorted(self.recall_by_kind.items())]
        return lines

    def text_lines(self) -> list[str]:
        ev = self.evaluation
        lines = list(ev.text_lines())
        width = max(len(b) for b, _, _ in SIZE_BANDS) + 2
        lines.append("recall by size band (long side):")
        lines.append(" " * width + "".join(c.rjust(14) for c in ev.classes))
        for band, _, _ in SIZE_BANDS:
            cells = self.recall_by_band.get(band, {})
            lines.append(band.ljust(width) + "".join(
                f"{_ratio(*cells.get(c, (0, 0)))} ({cells.get(c, (0, 0))[1]})".rjust(14) for c in ev.classes))
        for split, (r, t) in sorted(self.accuracy_by_scenes.items()):
            lines.append(f"{split} scenes: accuracy {_ratio(r, t)} over {t} images")
        if self.recall_by_kind:
            lines.append("recall by way of making: " + ", ".join(
                f"{kind} {_ratio(r, t)} ({t})" for kind, (r, t) in sorted(self.recall_by_kind.items())))
        return lines


def _ratio(right: int, total: int) -> str:
    return f"{right / total:.3f}" if total else "-"


def size_band(long_side: int) -> str:
    return next(name for name, lo, hi in SIZE_BANDS if lo <= long_side < hi)


def figures_from_scores(rows: list[tuple], classes: list[str], *, seed: int, labelled: int) -> ValidationFigures:
    """``rows``: (true label, scene split, long side, class probabilities in ``classes`` order[, made as])."""
    from .evaluation import Evaluation

    proba = np.array([r[3] for r in rows], dtype=float)
    evaluation = Evaluation.from_probabilities([r[0] for r in rows], proba, classes)
    predicted = [classes[j] for j in np.argmax(proba, axis=1)]
    by_band: dict[str, dict[str, list[int]]] = {}
    by_scenes: dict[str, list[int]] = {}
    by_kind: dict[str, list[int]] = {}
    for row, guess in zip(rows, predicted):
        label, split, long_side = row[:3]
        if len(row) > 4 and row[4]:
            kind = by_kind.setdefault(row[4], [0, 0])
            kind[0] += guess == label
            kind[1] += 1
        cell = by_band.setdefault(size_band(long_side), {}).setdefault(label, [0, 0])
        cell[0] += guess == label
        cell[1] += 1
        scenes = by_scenes.setdefault(split, [0, 0])
        scenes[0] += guess == label
        scenes[1] += 1
    return ValidationFigures(evaluation, {b: {c: tuple(v) for c, v in cells.items()} for b, cells in by_band.items()},
                             {s: tuple(v) for s, v in by_scenes.items()}, {k: tuple(v) for k, v in by_kind.items()},
                             seed, labelled)


def made_as(degradation: str) -> str:
    """The way an image was made, without its parameters: 'blurry_defocus4.4-...' -> 'blurry_defocus'."""
    return degradation.split("-")[0].rstrip("0123456789.")


def score_labelled_set(labels_csv: str, db_path: str) -> tuple[list[tuple], list[str], int]:
    """Read the mart's scores for a labelled set: (rows as figures_from_scores takes, classes, labelled)."""
    import duckdb
    from PIL import Image

    from ..paths import to_os
    from .photographs import split_of
    from .training import read_labelled_groups

    labelled = read_labelled_groups(labels_csv)
    with open(labels_csv, newline="") as f:
        kinds = [made_as(r.get("degradation") or "") for r in csv.DictReader(f) if r.get("path") and r.get("label")]
    con = duckdb.connect(db_path, read_only=True)
    try:
        cur = con.execute("select * from marts.image_quality where quality_label is not null")
        names = [d[0] for d in cur.description]
        scored = {row[names.index("path")]: row for row in cur.fetchall()}
    finally:
        con.close()
    classes = [n[2:] for n in names if n.startswith("p_")]
    rows = []
    for (path, label, photo), kind in zip(labelled, kinds):
        row = scored.get(path)
        if row is None:
            continue
        with Image.open(to_os(path)) as img:
            long_side = max(img.size)
        proba = np.array([row[names.index(f"p_{c}")] for c in classes], dtype=float)
        rows.append((label, split_of(photo) or "unknown", long_side, proba, kind))
    return rows, classes, len(labelled)


def validation_figures(work: str | os.PathLike, *, n: int = VALIDATION_N, seed: int = VALIDATION_SEED,
                       project_dir: str | None = None) -> tuple[ValidationFigures, str]:
    """Generate the set into ``work``, extract it, ``dbt build`` it, and measure; returns (figures, markdown)."""
    from .validation_data import write_validation_set

    work = Path(work)
    images, db = work / "validation_images", work / "validation.duckdb"
    shutil.rmtree(images, ignore_errors=True)
    for stale in (db, Path(str(db) + ".wal")):
        if stale.exists():
            stale.unlink()
    labels = write_validation_set(str(images), n=n, seed=seed)
    command = [sys.executable, "-m", "image_quality.cli", "run", str(images), "--db", str(db), "--quiet"]
    if project_dir:
        command += ["--project-dir", str(project_dir)]
    done = subprocess.run(command, capture_output=True, text=True, cwd=project_dir or None)
    if done.returncode != 0:
        raise RuntimeError(f"image-quality run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    rows, classes, labelled = score_labelled_set(str(labels), str(db))
    if not rows:
        raise RuntimeError(f"no image of {labels} was scored")
    figures = figures_from_scores(rows, classes, seed=seed, labelled=labelled)
    return figures, "\n".join(figures.markdown_lines()) + "\n"
