"""A contact sheet of a labelled set, to check by eye that its labels are true.

Each image gets two tiles: the whole image fitted into the tile, and a crop of
its centre at its own pixel size (1:1), where blur and moire show as a viewer
sees them. Usage: python bench/contact_sheet.py LABELS.csv OUT.png [--per-class 8]
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import cv2
import numpy as np

TILE = 220


def tile(image: np.ndarray, caption: str) -> np.ndarray:
    out = np.full((TILE + 16, TILE, 3), 255, np.uint8)
    out[:image.shape[0], :image.shape[1]] = image
    cv2.putText(out, caption[:40], (2, TILE + 12), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1)
    return out


def pair(path: Path, label: str) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    h, w = img.shape[:2]
    s = TILE / max(h, w)
    whole = cv2.resize(img, (max(1, int(w * s)), max(1, int(h * s))), interpolation=cv2.INTER_AREA)
    y, x = max(0, h // 2 - TILE // 2), max(0, w // 2 - TILE // 2)
    centre = img[y:y + TILE, x:x + TILE]
    return np.hstack([tile(whole, f"{label} {w}x{h}"), tile(centre, path.name[5:]),
                      np.full((TILE + 16, 6, 3), 128, np.uint8)])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--per-class", type=int, default=8)
    args = parser.parse_args()
    with args.labels.open() as f:
        rows = list(csv.DictReader(f))
    classes = sorted({r["label"] for r in rows})
    lines = []
    for c in classes:
        chosen = [r for r in rows if r["label"] == c][:args.per_class]
        pairs = [pair(args.labels.parent / r["path"], c) for r in chosen]
        for i in range(0, len(pairs), 4):
            row = pairs[i:i + 4]
            row += [np.full_like(pairs[0], 255)] * (4 - len(row))
            lines.append(np.hstack(row))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(args.out), np.vstack(lines))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
