"""A labelled set (sharp / blurry / moire) made from photographs our dependencies ship.

Sources: scikit-learn's two sample photographs (china.jpg, flower.jpg) and,
when scikit-image is installed, its photographs of real scenes and surfaces
(``PHOTOS``). Nothing is drawn: every image is a real photograph, degraded the
way cameras and screens degrade them. Strengths are set in *analysis pixels*
(see ``decoding.ANALYSIS_LONG_SIDE``), so "barely visible" means barely
visible at the size every metric looks at.

* sharp: a random crop (55-100% of each side), sometimes downscaled with area
  averaging, never upscaled: at most the photograph's own size;
* blurry: a crop at its own size, or enlarged to a phone size (1600-4032 px),
  then one of defocus (disk point-spread function, radius 1.2-6 analysis px),
  motion (a line of 3-16 analysis px at any angle), Gaussian (sigma 0.9-4) or
  camera shake (a random walk spanning 2-9 px);
* moire: the photograph captured through a periodic structure that aliases:
  a screen (each pixel a cell of vertical R, G, B sub-pixel stripes with a dark
  row gap, photographed at a small rotation and a non-integer pitch), halftone
  print (CMYK dot screens at 15/75/0/45 degrees, photographed near the dot
  pitch), or fine fabric (a weave finer than the camera's pixels, sampled
  without anti-aliasing). Lens blur and pattern contrast run from faint to strong.

Every image then gets sensor noise (sigma 0.5-2.5 grey levels, at its final
size) and JPEG encoding at quality 60-95. The same seed gives the same files,
byte for byte. ``labels.csv`` has ``path,label,photo,degradation``; paths are
relative to its folder and ``photo`` names the source, for leave-one-photo-out
validation.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from .decoding import ANALYSIS_LONG_SIDE

CLASSES = ("sharp", "blurry", "moire")
# scikit-image photographs of real scenes and surfaces (not microscopy, not
# illustrations, not images that are blurred already).
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "camera", "brick", "grass",
                  "gravel", "moon", "coins", "page", "text", "hubble_deep_field")
PHONE_LONG_SIDES = (1600, 2048, 2592, 3264, 4032)


def source_photographs() -> list[tuple[str, np.ndarray]]:
    """(name, BGR uint8 image) for every shipped photograph we can load."""
    import cv2
    from sklearn.datasets import load_sample_image

    photos = [(name.removesuffix(".jpg"), cv2.cvtColor(load_sample_image(name), cv2.COLOR_RGB2BGR))
              for name in ("china.jpg", "flower.jpg")]
    try:
        import skimage.data as data
    except ImportError:
        return photos
    loaders = {name: getattr(data, name, None) for name in SKIMAGE_PHOTOS}
    loaders["motorcycle"] = lambda: data.stereo_motorcycle()[0]
    for name, loader in loaders.items():
        if loader is None:
            continue
        try:
            img = np.asarray(loader())
        except Exception:  # a photo that needs a download is simply not used
            continue
        if img.ndim == 2:
            img = cv2.cvtColor(img.astype(np.uint8), cv2.COLOR_GRAY2BGR)
        else:
            img = cv2.cvtColor(img[:, :, :3].astype(np.uint8), cv2.COLOR_RGB2BGR)
        photos.append((name, np.ascontiguousarray(img)))
    return photos


def write_demo_set(out: str, *, n: int = 24, seed: int = 0) -> Path:
    """Write ``n`` labelled JPEGs into ``out`` (classes in turn); returns the labels.csv path."""
    import cv2

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    photos = source_photographs()
    rows = []
    for i in range(n):
        label = CLASSES[i % len(CLASSES)]
        name, photo = photos[(i // len(CLASSES)) % len(photos)]
        image, how = degrade(photo, label, rng)
        image = add_sensor_noise(image, rng)
        quality = int(rng.integers(60, 96))
        filename = f"{i:04d}_{name}_{how}.jpg"
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {filename}")
        (out_dir / filename).write_bytes(encoded.tobytes())
        rows.append((filename, label, name, how))
    labels = out_dir / "labels.csv"
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("path", "label", "photo", "degradation"))
        writer.writerows(rows)
    return labels


def degrade(photo: np.ndarray, label: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One degraded copy of ``photo`` for ``label``, and a short word for how."""
    image = random_crop(photo, rng)
    if label == "sharp":
        if rng.random() < 0.4:
            image = downscale(image, rng.uniform(0.5, 0.95))
        return image, "sharp"
    if label == "blurry":
        if rng.random() < 0.5:
            image = enlarge_to(image, int(rng.choice(PHONE_LONG_SIDES)))
        how = str(rng.choice(tuple(BLURS)))
        return BLURS[how](image, rng, analysis_scale(image)), how
    how = str(rng.choice(tuple(MOIRES)))
    return MOIRES[how](image, rng), how


def analysis_scale(image: np.ndarray) -> float:
    """Image pixels per analysis pixel."""
    return max(1.0, max(image.shape[:2]) / ANALYSIS_LONG_SIDE)


def random_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    ch, cw = int(h * rng.uniform(0.55, 1.0)), int(w * rng.uniform(0.55, 1.0))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return image[y:y + ch, x:x + cw].copy()


def downscale(image: np.ndarray, factor: float) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, int(w * factor)), max(1, int(h * factor))), interpolation=cv2.INTER_AREA)


def enlarge_to(image: np.ndarray, long_side: int) -> np.ndarray:
    import cv2

    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale <= 1:
        return image
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_CUBIC)


def add_sensor_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(0.5, 2.5)
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


# --- blur ------------------------------------------------------------------------------


def _filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    import cv2

    kernel = kernel.astype(np.float32)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT_101)


def defocus_blur(image, rng, scale):
    radius = rng.uniform(1.2, 6.0) * scale
    size = int(np.ceil(radius)) * 2 + 1
    yy, xx = np.mgrid[:size, :size] - size // 2
    return _filter(image, (xx ** 2 + yy ** 2 <= radius ** 2).astype(np.float32))


def motion_blur(image, rng, scale):
    import cv2

    length = rng.uniform(3.0, 16.0) * scale
    angle = rng.uniform(0.0, 180.0)
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    cv2.line(kernel, (0, size // 2), (size - 1, size // 2), 1.0, 1)
    rotation = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, 1.0)
    return _filter(image, cv2.warpAffine(kernel, rotation, (size, size), flags=cv2.INTER_LINEAR))


def gaussian_blur(image, rng, scale):
    import cv2

    return cv2.GaussianBlur(image, (0, 0), rng.uniform(0.9, 4.0) * scale, borderType=cv2.BORDER_REFLECT_101)


def shake_blur(image, rng, scale):
    import cv2

    steps = rng.normal(0.0, 1.0, (32, 2)).cumsum(axis=0)
    steps -= steps.mean(axis=0)
    steps *= rng.uniform(2.0, 9.0) * scale / max(1e-6, np.ptp(steps, axis=0).max())
    size = int(np.ceil(np.abs(steps).max())) * 2 + 3
    kernel = np.zeros((size, size), np.float32)
    for (y0, x0), (y1, x1) in zip(steps[:-1] + size // 2, steps[1:] + size // 2):
        cv2.line(kernel, (int(round(x0)), int(round(y0))), (int(round(x1)), int(round(y1))), 1.0, 1)
    return _filter(image, kernel)


BLURS = {"defocus": defocus_blur, "motion": motion_blur, "gaussian": gaussian_blur, "shake": shake_blur}


# --- moire -----------------------------------------------------------------------------


def _capture(scene: np.ndarray, pitch: float, angle: float, lens_sigma: float) -> np.ndarray:
    """Photograph ``scene`` (float BGR): lens blur, then point sampling every ``pitch`` scene px."""
    import cv2

    h, w = scene.shape[:2]
    if lens_sigma > 0:
        scene = cv2.GaussianBlur(scene, (0, 0), lens_sigma)
    out_w, out_h = max(1, int(w / pitch)), max(1, int(h / pitch))
    to_scene = cv2.getRotationMatrix2D((0.0, 0.0), angle, pitch)
    to_scene[:, 2] = np.array([w / 2, h / 2]) - to_scene[:, :2] @ np.array([out_w / 2, out_h / 2])
    return cv2.warpAffine(scene, to_scene, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REFLECT_101)


def screen_capture(image, rng):
    """The photo on an RGB-stripe display, photographed near the sub-pixel pitch."""
    zoom = int(rng.integers(1, 3))
    shown = np.repeat(np.repeat(image.astype(np.float32), zoom, axis=0), zoom, axis=1)
    cell = 3
    screen = np.repeat(np.repeat(shown, cell, axis=0), cell, axis=1)
    stripes = np.zeros_like(screen)
    for column, channel in enumerate((2, 1, 0)):  # R, G, B stripes, in BGR order
        stripes[:, column::cell, channel] = screen[:, column::cell, channel] * 3.0
    stripes[cell - 1::cell] *= rng.uniform(0.2, 0.6)  # the dark gap between pixel rows
    # camera pixels per screen pixel: a non-integer ratio near 1 aliases the sub-pixel grid
    pitch = cell * rng.uniform(0.75, 1.8)
    captured = _capture(stripes, pitch, rng.uniform(-5, 5), rng.uniform(0.25, 1.1))
    return np.clip(captured * rng.uniform(0.9, 1.15), 0, 255).astype(np.uint8)


def halftone_capture(image, rng):
    """The photo printed with CMYK halftone dot screens, photographed near the dot pitch."""
    import cv2

    upsample = 4
    big = cv2.resize(image, None, fx=upsample, fy=upsample, interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    cmy = 1.0 - big[:, :, ::-1]                     # C, M, Y from R, G, B
    k = cmy.min(axis=2, keepdims=True) * rng.uniform(0.5, 1.0)
    inks = np.concatenate([(cmy - k) / np.maximum(1 - k, 1e-3), k], axis=2)
    h, w = big.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    period = rng.uniform(3.5, 6.0)
    printed = np.ones((h, w, 3), np.float32)
    ink_colours = np.array([[0, 1, 1], [1, 0, 1], [1, 1, 0], [0, 0, 0]], np.float32)  # in RGB
    for index, degrees in enumerate((15, 75, 0, 45)):
        theta = np.deg2rad(degrees + rng.uniform(-2, 2))
        u = xx * np.cos(theta) + yy * np.sin(theta)
        v = -xx * np.sin(theta) + yy * np.cos(theta)
        dots = 0.25 * (2 + np.cos(2 * np.pi * u / period) + np.cos(2 * np.pi * v / period))
        covered = (inks[:, :, index] > dots).astype(np.float32)[:, :, None]
        printed *= 1 - covered * (1 - ink_colours[index])
    scene = printed[:, :, ::-1] * 255                # back to BGR
    captured = _capture(scene, period * rng.uniform(0.55, 1.4), rng.uniform(-4, 4), rng.uniform(0.3, 1.0))
    return np.clip(captured, 0, 255).astype(np.uint8)


def fabric_capture(image, rng):
    """A weave finer than the camera's pixels across the scene, sampled without anti-aliasing."""
    import cv2

    upsample = 3
    big = cv2.resize(image, None, fx=upsample, fy=upsample, interpolation=cv2.INTER_LINEAR).astype(np.float32)
    h, w = big.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    theta = np.deg2rad(rng.uniform(0, 180))
    period = rng.uniform(2.2, 3.6)                   # scene px; the camera samples every ~3
    u = xx * np.cos(theta) + yy * np.sin(theta)
    v = -xx * np.sin(theta) + yy * np.cos(theta)
    weave = 0.5 + 0.25 * (np.cos(2 * np.pi * u / period) + np.cos(2 * np.pi * v / (period * rng.uniform(0.9, 1.1))))
    contrast = rng.uniform(0.25, 0.7)
    tint = rng.uniform(0.7, 1.0, 3).astype(np.float32)
    scene = big * (1 - contrast * weave[:, :, None] * tint)
    captured = _capture(scene, upsample * rng.uniform(0.95, 1.15), rng.uniform(-3, 3), rng.uniform(0.0, 0.5))
    return np.clip(captured * (1 + contrast * 0.5), 0, 255).astype(np.uint8)


MOIRES = {"screen": screen_capture, "halftone": halftone_capture, "fabric": fabric_capture}
