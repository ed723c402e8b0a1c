"""Pictures of the model's features: each image's value by label, with the shipped model's class means.

Drawn by matplotlib (Agg, no display) as static SVG files beside index.html.
Values are shown after the model's own transform (``feature_transforms.TRANSFORMS``, the
Python twin of the SQL macro), the space in which the seed's means and
variances live.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from .cards import Model

FOLDER = "plots"
# One colour per class, in class order (matplotlib's tab10, which reads in print and for most colour blindness).
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f")
_TRANSFORM_TEXT = {"identity": "{}", "ln_x_plus_1": "ln({} + 1)"}


@dataclass(frozen=True)
class Plot:
    src: str      # relative to index.html
    title: str
    alt: str


def feature_axis_name(feature: str, transform: str) -> str:
    return _TRANSFORM_TEXT.get(transform, transform + "({})").format(feature)


def draw_feature_plots(out_dir: Path, model: Model | None,
                       points: Mapping[str, Mapping[str, list[float]]]) -> list[Plot]:
    """One strip plot per feature, and a scatter of the first two; [] when there is nothing to draw."""
    if model is None or not points:
        return []
    import matplotlib

    matplotlib.use("Agg")
    import numpy as np
    from matplotlib.figure import Figure

    from ..feature_transforms import TRANSFORMS

    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    features = [f for f in model.features if any(f in per for per in points.values())]
    labels = [c.label for c in model.classes]
    colour = {label: _COLOURS[i % len(_COLOURS)] for i, label in enumerate(labels)}
    rng = np.random.default_rng(0)  # jitter only; the same picture every time

    def values(label: str, feature: str):
        raw = np.asarray(points.get(label, {}).get(feature, []), dtype=float)
        transform = TRANSFORMS.get(model.transforms[feature])
        with np.errstate(invalid="ignore", divide="ignore"):
            return transform(raw) if transform else raw

    plots = []
    rc = {"svg.hashsalt": "image-quality-report", "svg.fonttype": "path", "font.size": 9}
    with matplotlib.rc_context(rc):
        for feature in features:
            fig = Figure(figsize=(6.4, 0.7 + 0.55 * len(labels)), layout="constrained")
            ax = fig.add_subplot()
            known_transform = model.transforms[feature] in TRANSFORMS
            for row, cls in enumerate(model.classes):
                v = values(cls.label, feature)
                ax.scatter(v, row + rng.uniform(-0.18, 0.18, len(v)), s=12, alpha=0.6,
                           color=colour[cls.label], linewidths=0, label=f"{cls.label} ({len(v)})")
                if known_transform and feature in cls.theta:
                    sd = cls.var[feature] ** 0.5
                    ax.errorbar([cls.theta[feature]], [row], xerr=[sd], fmt="D", color="black",
                                markerfacecolor=colour[cls.label], markersize=7, capsize=4, zorder=3)
            ax.set_yticks(range(len(labels)), labels)
            ax.set_ylim(-0.6, len(labels) - 0.4)
            ax.invert_yaxis()
            axis = feature_axis_name(feature, model.transforms[feature] if known_transform else "identity")
            ax.set_xlabel(axis + ("" if known_transform else " (untransformed: unknown transform)"))
            ax.grid(axis="x", alpha=0.3)
            name = _file_name(f"feature_{feature}")
            fig.savefig(folder / name, format="svg", metadata={"Date": None})
            plots.append(Plot(f"{FOLDER}/{name}", axis,
                              f"{axis} of each scored image by label; diamonds: the model's class means, "
                              "bars: one standard deviation"))
        if len(features) >= 2 and all(model.transforms[f] in TRANSFORMS for f in features[:2]):
            fx, fy = features[:2]
            fig = Figure(figsize=(6.4, 4.8), layout="constrained")
            ax = fig.add_subplot()
            for cls in model.classes:
                ax.scatter(values(cls.label, fx), values(cls.label, fy), s=14, alpha=0.6,
                           color=colour[cls.label], linewidths=0, label=cls.label)
                if fx in cls.theta and fy in cls.theta:
                    ax.scatter([cls.theta[fx]], [cls.theta[fy]], marker="X", s=160, color=colour[cls.label],
                               edgecolors="black", linewidths=1.2, zorder=3)
            ax.set_xlabel(feature_axis_name(fx, model.transforms[fx]))
            ax.set_ylabel(feature_axis_name(fy, model.transforms[fy]))
            ax.legend(title="label (X: class mean)", loc="best")
            ax.grid(alpha=0.3)
            name = _file_name(f"scatter_{fx}_{fy}")
            fig.savefig(folder / name, format="svg", metadata={"Date": None})
            title = f"{feature_axis_name(fy, model.transforms[fy])} against {feature_axis_name(fx, model.transforms[fx])}"
            plots.append(Plot(f"{FOLDER}/{name}", title,
                              f"{title} for each scored image, coloured by label; crosses: the model's class means"))
    return plots


def _file_name(stem: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stem) + ".svg"
