"""Benchmark image sets: real photographs at user-generated-content sizes, as phones save them.

The photographs our dependencies ship (scikit-learn's and scikit-image's) are
at most about 1000 px, so each is cropped, resized to a UGC size and given
sensor-like noise (Gaussian, sigma 2-4 grey levels, after a slight demosaic-like
softening) before JPEG encoding at quality 85-95: the noise is what makes JPEG
file sizes realistic (a 12 MP image comes to 2-4 MB, as a phone's does).

Mixes:
* ``mixed``: sizes from 800x600 to 4032x3024, weighted to about 3 MP on average;
* ``phone``: every image 4032x3024 (12 MP), the worst case for memory.

Usage: python bench/make_images.py OUT --n 300 [--mix mixed|phone] [--seed 0] [--size WxH]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "extract"))
from image_quality.lab.demo_data import source_photographs  # noqa: E402

# (width, height, weight): common upload sizes; the weights give a mean near 3 MP.
MIXED_SIZES = [
    (800, 600, 3), (1024, 768, 3), (1280, 960, 3), (1600, 1200, 3), (1920, 1080, 3),
    (2048, 1536, 3), (2592, 1944, 2), (3264, 2448, 2), (4032, 3024, 3),
]


def pick_size(mix: str, rng: np.random.Generator, fixed: tuple[int, int] | None) -> tuple[int, int]:
    if fixed:
        return fixed
    if mix == "phone":
        return 4032, 3024
    weights = np.array([w for _, _, w in MIXED_SIZES], float)
    w, h, _ = MIXED_SIZES[rng.choice(len(MIXED_SIZES), p=weights / weights.sum())]
    return (w, h) if rng.random() < 0.8 else (h, w)  # some portrait photos


def make_image(photo: np.ndarray, size: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    w, h = size
    ph, pw = photo.shape[:2]
    # the largest crop of the target's aspect ratio, then 80-100% of it
    scale = rng.uniform(0.8, 1.0)
    crop_w = max(1, int(min(pw, ph * w / h) * scale))
    crop_h = max(1, min(ph, int(crop_w * h / w)))
    y = int(rng.integers(0, ph - crop_h + 1))
    x = int(rng.integers(0, pw - crop_w + 1))
    image = cv2.resize(photo[y:y + crop_h, x:x + crop_w], (w, h), interpolation=cv2.INTER_CUBIC)
    image = cv2.GaussianBlur(image, (0, 0), 0.6)
    noise = rng.normal(0.0, rng.uniform(2.0, 4.0), image.shape).astype(np.float32)
    return np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)


def write_set(out: Path, n: int, mix: str = "mixed", seed: int = 0,
              size: tuple[int, int] | None = None) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = [img for _, img in source_photographs()]
    paths = []
    for i in range(n):
        photo = photos[i % len(photos)]
        image = make_image(photo, pick_size(mix, rng, size), rng)
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(85, 96))])
        assert ok
        path = out / f"{i // 1000:03d}" / f"ugc_{i:06d}.jpg"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(encoded.tobytes())
        paths.append(path)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--n", type=int, default=300)
    parser.add_argument("--mix", choices=("mixed", "phone"), default="mixed")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--size", help="WxH for every image (overrides --mix)")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x")) if args.size else None
    paths = write_set(args.out, args.n, args.mix, args.seed, size)
    total = sum(p.stat().st_size for p in paths)
    print(f"wrote {len(paths)} images, {total / 1e6:.0f} MB, to {args.out}")


if __name__ == "__main__":
    main()
