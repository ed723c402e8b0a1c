"""Train the quality model and export it as the dbt seed that scores in SQL.

The model is scikit-learn's Gaussian naive Bayes on a few metric columns, each
through a recorded transform. It leaves Python as a long-form CSV, one row per
(class, feature): ``model_version, class_label, class_index, class_prior,
feature, feature_transform, theta, var`` (``var`` already includes
scikit-learn's ``epsilon_``). dbt loads it as ``seeds/gaussian_nb_params.csv``
and the ``gaussian_nb_score`` macro computes the same joint log-likelihoods and
probabilities in SQL; nothing about classes or features is written in SQL.

Transforms are computed here exactly as SQL computes them (``ln(x + 1)``, not
``log1p``), so Python and SQL see the same numbers.

Beside the seed, training writes a golden set (``gaussian_nb_golden.csv``):
cases drawn from the model itself with scikit-learn's ``predict_proba``
outputs, which a dbt test compares with the SQL scores.
"""

from __future__ import annotations

import csv
import hashlib
import os
from typing import Iterable, Mapping, Sequence

import numpy as np

from ..feature_transforms import TRANSFORMS, transform_features  # noqa: F401  (the lab trains what production scores)

CLASSES = ("sharp", "blurry", "moire")

# The model's features (name -> transform), chosen on real camera photographs
# (lab/real_photographs.py), leave-one-source-out (bench/feature_evidence.py;
# docs/METRICS.md has the figures and the options tried): the blurriest
# direction's fine/coarse energy ratio (blur, motion blur), the pixel-scale
# crops' texture excess (a screen's grid), and Crete-Roffet's blur effect (blur
# judged against the image itself). A fourth feature adds nothing on the real
# set, and the Laplacian, Sobel and FFT measures say what these say: naive
# Bayes would count correlated evidence twice.
DEFAULT_FEATURES: Mapping[str, str] = {
    "dir_sharpness_min": "identity",
    "texture_excess_mean": "identity",
    "blur_effect": "identity",
}

# What `make train` fits the shipped model on: the real development set's
# photographs, without the training generator's images. Adding them lowers the
# real set's leave-one-source-out accuracy (0.883 alone; 0.847 with the
# generator of 2026-12-07 at full weight; with the one before, 0.811, and 0.874
# at a twentieth of a photograph's weight): what the generators draw still
# differs from real photographs (docs/METRICS.md, make quality part 0).
FIT_ON_GENERATED_IMAGES = False

SEED_COLUMNS = ("model_version", "class_label", "class_index", "class_prior",
                "feature", "feature_transform", "theta", "var")
GOLDEN_COLUMNS = ("case_id", "model_version", "expected_label", "kind", "name", "value")
GOLDEN_FILE_NAME = "gaussian_nb_golden.csv"
GOLDEN_CASES_PER_CLASS = 12
MODEL_VERSION_CHARS = 12


# --- export and import ---------------------------------------------------------


def export_gaussian_nb(clf, feature_names: Sequence[str], transforms: Sequence[str],
                       model_version: str | None = None) -> list[dict]:
    """The fitted GaussianNB as seed rows, one per (class, feature), classes in ``classes_`` order.

    ``model_version`` defaults to a short hash of every exported parameter, so the
    same model always gets the same version and any change gets a new one.
    """
    feature_names, transforms = list(feature_names), list(transforms)
    if len(feature_names) != len(transforms) or len(feature_names) != clf.theta_.shape[1]:
        raise ValueError("one transform per feature, and as many features as the model has")
    for name in list(feature_names) + [str(c) for c in clf.classes_]:
        if not _is_identifier(name):
            raise ValueError(f"class and feature names must be lower-case SQL identifiers: {name!r}")
    rows = []
    for i, label in enumerate(clf.classes_):
        for j, feature in enumerate(feature_names):
            rows.append({
                "class_label": str(label),
                "class_index": i,
                "class_prior": float(clf.class_prior_[i]),
                "feature": feature,
                "feature_transform": transforms[j],
                "theta": float(clf.theta_[i, j]),
                "var": float(clf.var_[i, j]),
            })
    version = model_version or _parameter_hash(rows)
    return [{"model_version": version, **row} for row in rows]


def _is_identifier(name: str) -> bool:
    return bool(name) and (name[0].isalpha() or name[0] == "_") and \
        all(c.islower() or c.isdigit() or c == "_" for c in name)


def _parameter_hash(rows: Iterable[dict]) -> str:
    text = "\n".join(",".join(_csv_value(row[c]) for c in SEED_COLUMNS[1:]) for row in rows)
    return hashlib.sha256(text.encode()).hexdigest()[:MODEL_VERSION_CHARS]


def _csv_value(value) -> str:
    # repr of a float is the shortest string that reads back as the same double.
    return repr(value) if isinstance(value, float) else str(value)


def write_seed(rows: Sequence[dict], seed_csv: str) -> None:
    _write_csv(seed_csv, SEED_COLUMNS, rows)


def _write_csv(path: str, columns: Sequence[str], rows: Sequence[dict]) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    tmp = f"{path}.tmp"
    with open(tmp, "w", newline="") as fh:
        out = csv.writer(fh, lineterminator="\n")
        out.writerow(columns)
        for row in rows:
            out.writerow([_csv_value(row[c]) for c in columns])
    os.replace(tmp, path)


def load_gaussian_nb(seed_csv: str):
    """Rebuild the fitted GaussianNB a seed describes.

    Returns (clf, feature_names, transforms, model_version); ``clf.predict_proba``
    expects transformed features, in ``feature_names`` order.
    """
    from sklearn.naive_bayes import GaussianNB

    with open(seed_csv, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{seed_csv} holds no model")
    versions = {r["model_version"] for r in rows}
    if len(versions) != 1:
        raise ValueError(f"{seed_csv} holds {len(versions)} model versions, expected one")
    classes = sorted({(int(r["class_index"]), r["class_label"]) for r in rows})
    features: list[str] = []
    transforms: dict[str, str] = {}
    for r in rows:
        if r["feature"] not in transforms:
            features.append(r["feature"])
            transforms[r["feature"]] = r["feature_transform"]
    k, n = len(classes), len(features)
    theta, var, prior = np.zeros((k, n)), np.zeros((k, n)), np.zeros(k)
    fi = {f: j for j, f in enumerate(features)}
    for r in rows:
        i = int(r["class_index"])
        theta[i, fi[r["feature"]]] = float(r["theta"])
        var[i, fi[r["feature"]]] = float(r["var"])
        prior[i] = float(r["class_prior"])
    clf = GaussianNB()
    clf.classes_ = np.array([label for _, label in classes], dtype=object)
    clf.theta_, clf.var_, clf.class_prior_ = theta, var, prior
    clf.class_count_ = prior.copy()
    clf.epsilon_ = 0.0  # already inside var
    clf.n_features_in_ = n
    return clf, features, [transforms[f] for f in features], versions.pop()


# --- golden set ---------------------------------------------------------------------


def make_golden_set(seed_csv: str, golden_csv: str, *, cases_per_class: int = GOLDEN_CASES_PER_CLASS,
                    random_state: int = 0) -> int:
    """Write golden cases with scikit-learn's outputs for the model in ``seed_csv``.

    Rows are drawn from each class's own Gaussian (so every class wins some),
    plus each class mean and points 40 standard deviations out, where the
    probabilities saturate to 0 and 1 and a softmax without the max shift
    would overflow. Long form, like the seed, so its columns never change with
    the model: per case, one ``kind = 'feature'`` row per feature (the raw
    metric, before the transform, written so it reads back as the same double)
    and one ``kind = 'probability'`` row per class. Returns the number of cases.
    """
    clf, features, transforms, version = load_gaussian_nb(seed_csv)
    rng = np.random.default_rng(random_state)
    sd = np.sqrt(clf.var_)
    points = []
    for i in range(len(clf.classes_)):
        points.append(clf.theta_[i])
        points.extend(clf.theta_[i] + sd[i] * rng.standard_normal((cases_per_class, len(features))))
        points.append(clf.theta_[i] + 40 * sd[i])
        points.append(clf.theta_[i] - 40 * sd[i])
    Z = np.array(points)
    X = np.column_stack([_invert(transforms[j], Z[:, j]) for j in range(len(features))])
    proba = clf.predict_proba(transform_features(X, transforms))
    labels = clf.classes_[np.argmax(proba, axis=1)]
    rows = []
    for n, (x, p, label) in enumerate(zip(X, proba, labels), start=1):
        case = {"case_id": n, "model_version": version, "expected_label": str(label)}
        rows.extend({**case, "kind": "feature", "name": f, "value": float(v)} for f, v in zip(features, x))
        rows.extend({**case, "kind": "probability", "name": str(c), "value": float(v)}
                    for c, v in zip(clf.classes_, p))
    _write_csv(golden_csv, GOLDEN_COLUMNS, rows)
    return len(X)


def _invert(transform: str, z: np.ndarray) -> np.ndarray:
    if transform == "identity":
        return z
    if transform == "ln_x_plus_1":
        return np.maximum(np.exp(z) - 1.0, 0.0)  # a variance is never negative
    raise ValueError(f"unknown feature transform {transform!r}")


# --- training --------------------------------------------------------------------------


LABEL_COLUMNS = ("path", "label", "photo", "degradation")


def write_labels(labels_csv, rows: Iterable[Sequence[str]]) -> None:
    """A labelled set's labels.csv, as both generators write it: ``LABEL_COLUMNS``, paths relative to it."""
    with open(labels_csv, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(LABEL_COLUMNS)
        writer.writerows(rows)


def read_labels(labels_csv: str) -> list[tuple[str, str]]:
    """(absolute path, label) pairs; relative paths are relative to the labels file."""
    return [(path, label) for path, label, _ in read_labelled_groups(labels_csv)]


def read_labelled_groups(labels_csv: str) -> list[tuple[str, str, str]]:
    """(absolute path, label, group) triples from a labels file.

    The image is named by ``path`` (the generators' files) or ``file`` (the
    real set's), relative to the labels file unless absolute; the group, the
    unit left out in validation, by ``photo`` (a generated image's source
    photograph) or ``source_repo`` (a real photograph's source), else the path.
    """
    from ..sources.local import normalise_path

    base = os.path.dirname(os.path.abspath(labels_csv))
    with open(labels_csv, newline="") as fh:
        reader = csv.DictReader(fh)
        names = set(reader.fieldnames or ())
        path_column = "path" if "path" in names else "file"
        missing = {path_column, "label"} - names
        if missing:
            raise ValueError(f"{labels_csv} lacks column(s) {sorted(missing)} (an image column is path or file)")
        group_column = "photo" if "photo" in names else "source_repo"
        triples = []
        for row in reader:
            path = row[path_column].strip()
            label = row["label"].strip()
            if not path or not label:
                continue
            absolute = normalise_path(path if os.path.isabs(path) else os.path.join(base, path))
            triples.append((absolute, label, (row.get(group_column) or "").strip() or absolute))
    return triples


def read_features(db_path: str, paths: Sequence[str], features: Sequence[str]) -> dict[str, list]:
    """The current features of each path held now: {path: [value per feature]}.

    A path counts when raw.files has an open interval for it; each feature comes
    from the highest metric_version of the family table that declares it, the
    same rows the dbt models score. Paths lacking any feature are left out.
    """
    import pyarrow as pa

    from .. import warehouse

    con = warehouse.connect(db_path, read_only=True)
    try:
        tables = _feature_tables(con, features)
        con.register("labelled_paths", pa.table({"path": list(paths)}))
        joins, selects = [], []
        for n, (table, cols) in enumerate(tables.items()):
            alias = f"m{n}"
            joins.append(f"""join (
                    select *, row_number() over (
                        partition by content_hash order by metric_version desc) as version_rank
                      from {warehouse.SCHEMA}.{table}) {alias}
                  on {alias}.content_hash = f.content_hash and {alias}.version_rank = 1""")
            selects.extend(f"{alias}.{c} as {c}" for c in cols)
        rows = con.execute(f"""
            select f.path, {", ".join(selects)}
              from labelled_paths l
              join {warehouse.SCHEMA}.files f on f.path = l.path and f.valid_to_run is null
              {" ".join(joins)}""").fetchall()
    finally:
        con.close()
    found = {}
    for path, *values in rows:
        by_name = dict(zip([c for cols in tables.values() for c in cols], values))
        vector = [by_name[f] for f in features]
        if all(v is not None for v in vector):
            found[path] = vector
    return found


def _feature_tables(con, features: Sequence[str]) -> dict[str, list[str]]:
    """{raw table: [its feature columns]} from the families' current declarations."""
    from .. import warehouse

    declared = con.execute(f"""
        select table_name, columns from (
            select table_name, columns, row_number() over (
                partition by family order by version desc) as version_rank
              from {warehouse.SCHEMA}.metric_families)
         where version_rank = 1""").fetchall()
    owner = {col: table for table, cols in declared for col in cols}
    unknown = [f for f in features if f not in owner]
    if unknown:
        raise ValueError(f"no metric family declares feature(s) {unknown}")
    tables: dict[str, list[str]] = {}
    for f in features:
        tables.setdefault(warehouse._check_identifier(owner[f]), []).append(
            warehouse._check_identifier(f))
    return tables


def train_model(db_path: str, labels_csv: str | Sequence[str], seed_csv: str, model_card: str | None = None,
                *, features: Mapping[str, str] | None = None,
                golden_csv: str | None = None) -> dict:
    """Fit GaussianNB on the labelled images' current features and write the seed.

    ``labels_csv``: one labels file or several (a generated set and the real
    set, say), every image of them extracted into ``db_path``. Also writes the
    golden set beside the seed (or to ``golden_csv``) and, when asked, a
    Markdown model card. Returns a summary: model_version, classes, per-class
    counts, features, training and cross-validated accuracy, and the labelled
    paths that had no features (not held now, or not measured).
    """
    labels_csvs = [labels_csv] if isinstance(labels_csv, (str, os.PathLike)) else list(labels_csv)
    features = dict(features or DEFAULT_FEATURES)
    names, transforms = list(features), list(features.values())
    labelled = [triple for csv_path in labels_csvs for triple in read_labelled_groups(csv_path)]
    if not labelled:
        raise ValueError(f"{', '.join(map(str, labels_csvs))} hold(s) no labelled paths")
    found = read_features(db_path, [p for p, _, _ in labelled], names)
    used = [(p, label, group) for p, label, group in labelled if p in found]
    unmatched = sorted({p for p, _, _ in labelled if p not in found})
    classes = sorted({label for _, label, _ in used})
    if len(classes) < 2:
        raise ValueError(f"need images of at least two classes with features in {db_path}; "
                         f"found {len(used)} of {len(labelled)} labelled paths")
    X = transform_features(np.array([found[p] for p, _, _ in used]), transforms)
    y = np.array([label for _, label, _ in used], dtype=object)
    groups = np.array([group for _, _, group in used], dtype=object)
    if not np.isfinite(X).all():
        raise ValueError("a labelled image has a non-finite feature; fix the metrics before training")

    clf = fit_gaussian_nb(X, y)
    rows = export_gaussian_nb(clf, names, transforms)
    write_seed(rows, seed_csv)
    golden_csv = golden_csv or os.path.join(os.path.dirname(os.path.abspath(seed_csv)), GOLDEN_FILE_NAME)
    golden_rows = make_golden_set(seed_csv, golden_csv)

    counts = {c: int((y == c).sum()) for c in classes}
    validation = leave_one_group_out(X, y, groups, clf.classes_)
    summary = {
        "model_version": rows[0]["model_version"],
        "classes": [str(c) for c in clf.classes_],
        "class_counts": counts,
        "features": dict(zip(names, transforms)),
        "n_labelled": len(labelled),
        "n_trained": len(used),
        "unmatched_paths": unmatched,
        "train_accuracy": float(clf.score(X, y)),
        "groups": int(len(set(groups))),
        "lopo_accuracy": validation.accuracy if validation else None,
        "lopo_auc": validation.auc_by_class if validation else None,
        "seed_csv": seed_csv,
        "golden_csv": golden_csv,
        "golden_rows": golden_rows,
    }
    if model_card:
        _write_model_card(model_card, summary, labels_csvs, validation)
    return summary


def fit_gaussian_nb(X: np.ndarray, y: np.ndarray):
    """scikit-learn's GaussianNB with equal class priors: a class is not likelier in an upload
    because a training set happens to hold more of it."""
    from sklearn.naive_bayes import GaussianNB

    classes = sorted(set(y))
    return GaussianNB(priors=[1.0 / len(classes)] * len(classes)).fit(X, y)


def leave_one_group_out(X: np.ndarray, y: np.ndarray, groups: np.ndarray, classes, *,
                        also_fit: tuple[np.ndarray, np.ndarray] | None = None) -> "Evaluation | None":
    """Each group's images scored by a model fitted on every other group (None if < 3 groups).

    ``also_fit`` = (X, y): rows every fold's model is fitted on too (generated
    images beside real photographs), never scored.
    """
    from .evaluation import Evaluation

    if len(set(groups)) < 3:
        return None
    proba = held_out_probabilities(X, y, groups, classes, also_fit=also_fit)
    return Evaluation.from_probabilities(list(y), proba, [str(c) for c in classes])


def held_out_probabilities(X: np.ndarray, y: np.ndarray, groups: np.ndarray, classes, *,
                           also_fit: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Each row's class probabilities (columns in ``classes`` order) from a model fitted without its group."""
    proba = np.zeros((len(y), len(classes)))
    for group in sorted(set(groups)):
        held = groups == group
        X_fit, y_fit = X[~held], y[~held]
        if also_fit is not None:
            X_fit, y_fit = np.vstack([X_fit, also_fit[0]]), np.concatenate([y_fit, also_fit[1]])
        model = fit_gaussian_nb(X_fit, y_fit)
        columns = [list(model.classes_).index(c) if c in model.classes_ else None for c in classes]
        p = model.predict_proba(X[held])
        proba[held] = np.column_stack([p[:, j] if j is not None else np.zeros(held.sum()) for j in columns])
    return proba


def _kind_of_set(labels_csv: str) -> str:
    """What a labels file describes, from its columns: the real set's or a generator's."""
    with open(labels_csv, newline="") as fh:
        columns = set(next(csv.reader(fh), []))
    if "source_repo" in columns:
        return "camera photographs, grouped by source repository: `image_quality.lab.real_photographs`"
    return ("images made by `image-quality demo-data` from photographs our dependencies and Debian's packages "
            "ship: `image_quality.lab.demo_data`")


def _write_model_card(path: str, summary: dict, labels_csvs: Sequence[str], validation) -> None:
    """The model card: deterministic text (no dates, no absolute paths), so a rebuild is bit for bit."""
    lines = [
        f"# Quality model {summary['model_version']}",
        "",
        "Gaussian naive Bayes (scikit-learn `GaussianNB`, default `var_smoothing`, equal class priors), "
        "scored in SQL by the dbt macro `gaussian_nb_score` from `seeds/gaussian_nb_params.csv`. "
        "Rebuild it with `make train`.",
        "",
        "## Training set",
        "",
        "- Labels: " + ", ".join(f"`{os.path.relpath(p)}` ({_kind_of_set(p)})" for p in labels_csvs)
        + f": {summary['n_labelled']} images, {summary['n_trained']} with features, "
        f"from {summary['groups']} groups (source repositories or source photographs)",
        "- Classes: " + ", ".join(f"{c} ({summary['class_counts'][c]})" for c in summary["classes"]),
        "",
        "## Features",
        "",
        "| feature | transform | definition |",
        "| --- | --- | --- |",
    ]
    lines += [f"| `{f}` | {t} | see docs/METRICS.md |" for f, t in summary["features"].items()]
    lines += ["", f"Training accuracy (on the images fitted): {summary['train_accuracy']:.3f}", ""]
    if validation is not None:
        lines += ["## Leave-one-group-out validation on the training set", "",
                  "Each group's images (a source repository's photographs, or a source photograph's generated "
                  "images) are scored by a model fitted on all the other groups.",
                  ""] + validation.markdown_lines()
    else:
        lines += ["Too few groups for leave-one-group-out validation."]
    lines += ["", "Review the worst-scored images of a new collection before trusting its labels.", ""]
    with open(path, "w") as fh:
        fh.write("\n".join(lines))
