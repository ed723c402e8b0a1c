"""Real camera photographs as the yardstick: a development set kept outside the repository.

A model fitted on generated images learns what the generators draw; only
photographs that no one here made say whether it finds screens and blur in
real uploads. The set (``labels.csv`` with ``file,label,source_repo,...`` and
``images/``) lives outside the repository because most of its photographs
carry no licence: it is found through ``$IMAGE_QUALITY_REALDEV``, else at
``../shared/realdev`` beside the project, and nothing here copies it.

Every figure on it is **leave-one-source-out**: the photographs of each source
repository are scored by a model that saw none of them (photos from one
repository share a phone, a screen, a person's habits; a model that saw some
of them would be judged on what it remembers). A model may be fitted on the
other sources' photographs, on generated images, or on both.
"""

from __future__ import annotations

import csv
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REALDEV_ENV = "IMAGE_QUALITY_REALDEV"
DEFAULT_LOCATION = Path("..") / "shared" / "realdev"   # relative to the project's folder
LABELS_FILE = "labels.csv"


@dataclass(frozen=True)
class RealPhotograph:
    path: str        # absolute, normalised as raw.files stores it
    label: str
    source: str      # the repository it came from: the unit left out


def locate(project_dir: str | os.PathLike) -> Path | None:
    """The real set's folder (holding labels.csv), or None when it is not on this machine."""
    configured = os.environ.get(REALDEV_ENV)
    candidate = Path(configured) if configured else Path(project_dir).resolve() / DEFAULT_LOCATION
    return candidate.resolve() if (candidate / LABELS_FILE).is_file() else None


def read_set(root: str | os.PathLike) -> list[RealPhotograph]:
    """The labelled photographs of the set at ``root``, in labels.csv order."""
    from ..sources.local import normalise_path

    root = Path(root)
    with open(root / LABELS_FILE, newline="") as fh:
        reader = csv.DictReader(fh)
        missing = {"file", "label", "source_repo"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{root / LABELS_FILE} lacks column(s) {sorted(missing)}")
        return [RealPhotograph(normalise_path(str(root / row["file"])), row["label"].strip(),
                               row["source_repo"].strip())
                for row in reader if row["file"].strip() and row["label"].strip()]


@dataclass
class RealSetFigures:
    """The real set scored leave-one-source-out by one recipe (features, what the folds are fitted on)."""

    evaluation: "object"                                  # evaluation.Evaluation over every scored photograph
    recall_by_band: dict[str, dict[str, tuple[int, int]]]  # size band -> class -> (recalled, photographs)
    accuracy_by_source: dict[str, tuple[int, int]]         # source repository -> (right, photographs)
    fitted_on: str
    sources: int

    def text_lines(self) -> list[str]:
        from .validation_report import SIZE_BANDS

        ev = self.evaluation
        lines = [f"{ev.n} photographs from {self.sources} sources, each source scored by a model fitted on "
                 f"{self.fitted_on}"] + list(ev.text_lines())
        lines.append("recall by size band (long side): " + "; ".join(
            f"{band}: " + ", ".join(f"{c} {_ratio(*self.recall_by_band.get(band, {}).get(c, (0, 0)))}"
                                    f" ({self.recall_by_band.get(band, {}).get(c, (0, 0))[1]})" for c in ev.classes)
            for band, _, _ in SIZE_BANDS))
        worst = sorted(self.accuracy_by_source.items(), key=lambda kv: kv[1][0] / kv[1][1])[:5]
        lines.append("weakest sources: " + ", ".join(f"{s} {r}/{t}" for s, (r, t) in worst))
        return lines

    def markdown_lines(self) -> list[str]:
        from .validation_report import SIZE_BANDS

        ev = self.evaluation
        lines = [f"{ev.n} real photographs from {self.sources} source repositories, each source's photographs "
                 f"scored by a model fitted on {self.fitted_on}.", ""]
        lines += ev.markdown_lines()
        lines += ["", "Recall per class and size band (long side of the stored image):", "",
                  "| size band | " + " | ".join(ev.classes) + " | photographs |",
                  "| --- | " + " | ".join("---:" for _ in ev.classes) + " | ---: |"]
        for band, _, _ in SIZE_BANDS:
            cells = self.recall_by_band.get(band, {})
            lines.append(f"| {band} | " + " | ".join(_ratio(*cells.get(c, (0, 0))) for c in ev.classes)
                         + f" | {sum(t for _, t in cells.values())} |")
        return lines


def _ratio(right: int, total: int) -> str:
    return f"{right / total:.3f}" if total else "-"


def real_set_figures(real_db: str, photos: list[RealPhotograph], features: dict[str, str], *,
                     generated: tuple[np.ndarray, np.ndarray] | None, use_real: bool = True) -> RealSetFigures:
    """Leave-one-source-out figures for a model on ``features`` (name -> transform).

    Each fold is fitted on the other sources' photographs (``use_real``) and on
    ``generated`` = (X, y) when given (already transformed, same features).
    """
    from .training import fit_gaussian_nb, held_out_probabilities, read_features, transform_features
    from .evaluation import Evaluation
    from .validation_report import size_band

    names, transforms = list(features), list(features.values())
    found = read_features(real_db, [p.path for p in photos], names + ["width", "height"])
    kept = [p for p in photos if p.path in found]
    X = transform_features(np.array([found[p.path][:len(names)] for p in kept]), transforms)
    y = np.array([p.label for p in kept], dtype=object)
    sources = np.array([p.source for p in kept], dtype=object)
    classes = sorted(set(y))
    if use_real:
        proba = held_out_probabilities(X, y, sources, classes, also_fit=generated)
        fitted_on = "the other sources' photographs" + (" and the training generator's images" if generated else "")
    else:
        model = fit_gaussian_nb(*generated)
        proba = model.predict_proba(X)[:, [list(model.classes_).index(c) for c in classes]]
        fitted_on = "the training generator's images only"
    evaluation = Evaluation.from_probabilities(list(y), proba, classes)
    predicted = np.array(classes)[np.argmax(proba, axis=1)]
    by_band: dict[str, dict[str, list[int]]] = {}
    by_source: dict[str, list[int]] = {}
    for p, truth, guess in zip(kept, y, predicted):
        long_side = int(max(found[p.path][len(names)], found[p.path][len(names) + 1]))
        cell = by_band.setdefault(size_band(long_side), {}).setdefault(truth, [0, 0])
        cell[0] += int(guess == truth)
        cell[1] += 1
        tally = by_source.setdefault(p.source, [0, 0])
        tally[0] += int(guess == truth)
        tally[1] += 1
    return RealSetFigures(evaluation, {b: {c: tuple(v) for c, v in cells.items()} for b, cells in by_band.items()},
                          {s: tuple(v) for s, v in by_source.items()}, fitted_on, len(set(sources)))
