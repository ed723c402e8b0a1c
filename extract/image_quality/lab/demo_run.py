"""What ``make demo`` (``image-quality demo``) prints at the end: a short, readable result.

The demo set carries its own labels (``labels.csv``), so the demo can say how
well the shipped model did on it: counts per label, accuracy against those
labels, and the confusion. Everything is read from the marts, like any analyst
would, and nothing here names a feature of the model.
"""

from __future__ import annotations

import json
from pathlib import Path

MAX_DISAGREEMENTS_SHOWN = 5
NEXT_COMMANDS = (
    ("source .venv/bin/activate", "put image-quality and dbt on PATH (or type .venv/bin/image-quality)"),
    ("image-quality runs", "the load runs, newest first"),
    ("image-quality run ~/Pictures", "your own photos, into the same warehouse.duckdb"),
    ("image-quality report", "rewrite report/index.html"),
    ("dbt docs generate && dbt docs serve", "every model and column, and the lineage"),
    ("dbt show --select worst_images", "an analysis from analyses/, run"),
)


def result_lines(db_path: str, labels_csv: str | Path) -> list[str]:
    """Counts per label and, for the images labels.csv names, accuracy and confusion."""
    import duckdb
    import numpy as np
    import pyarrow as pa

    from .evaluation import Evaluation
    from .training import read_labels

    labelled = read_labels(str(labels_csv))
    con = duckdb.connect(db_path, read_only=True)
    try:
        counts = con.execute(
            """select coalesce(quality_label, '(' || score_status || ')'), count(*)
                 from marts.image_quality group by 1 order by 2 desc, 1""").fetchall()
        con.register("labelled", pa.table({"path": [p for p, _ in labelled], "label": [l for _, l in labelled]}))
        cur = con.execute("""select labelled.label, images.*
                               from labelled
                               join marts.image_quality as images on images.path = labelled.path
                              where images.quality_label is not null""")
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    total = sum(n for _, n in counts)
    lines = [f"marts.image_quality: {total} images, " + ", ".join(f"{n} {label}" for label, n in counts)]
    classes = [n[2:] for n in names if n.startswith("p_")]
    if not rows or not classes:
        return lines + [f"none of the {len(labelled)} images in {labels_csv} was scored"]
    proba = np.asarray([[row[names.index(f"p_{c}")] for c in classes] for row in rows], dtype=float)
    result = Evaluation.from_probabilities([row[0] for row in rows], proba, classes)
    right = int(round(result.accuracy * result.n))
    lines.append(f"against its own labels ({labels_csv}): {right} of {result.n} right ({result.accuracy:.0%})")
    width = max(len(c) for c in classes) + 2
    lines.append("  " + "labelled \\ scored".ljust(width + 8) + "".join(c.rjust(width) for c in classes))
    lines += ["  " + c.ljust(width + 8) + "".join(str(v).rjust(width) for v in row)
              for c, row in zip(classes, result.confusion)]
    wrong = sorted(((row[0], row[names.index("quality_label")], row[names.index("path")], p.max())
                    for row, p in zip(rows, proba) if row[0] != row[names.index("quality_label")]),
                   key=lambda w: -w[3])
    if wrong:
        lines.append("where the model and the labels disagree, most confident first:")
        lines += [f"  {Path(path).name}: labelled {label}, scored {scored} (p {p:.2f})"
                  for label, scored, path, p in wrong[:MAX_DISAGREEMENTS_SHOWN]]
        if len(wrong) > MAX_DISAGREEMENTS_SHOWN:
            lines.append(f"  ... and {len(wrong) - MAX_DISAGREEMENTS_SHOWN} more")
    return lines


def dbt_build_counts(project_dir: Path) -> str:
    """'26 models, 2 seeds, 206 tests' from the last dbt invocation's run_results.json, or ''."""
    try:
        results = json.loads((project_dir / "target" / "run_results.json").read_text())["results"]
    except (OSError, ValueError, KeyError):
        return ""
    kinds: dict[str, int] = {}
    for result in results:
        kind = result["unique_id"].split(".")[0]
        kinds[kind] = kinds.get(kind, 0) + 1
    words = {"model": "models", "seed": "seeds", "test": "tests"}
    return ", ".join(f"{kinds[k]} {w}" for k, w in words.items() if kinds.get(k))


def next_command_lines() -> list[str]:
    width = max(len(c) for c, _ in NEXT_COMMANDS) + 2
    return ["next, from this folder:"] + [f"  {c.ljust(width)}# {why}" for c, why in NEXT_COMMANDS]
