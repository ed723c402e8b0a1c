"""A labelled demo set (sharp / blurry / moire) made from photographs our dependencies ship.

Sources: scikit-learn's two sample photographs (china.jpg, flower.jpg) and,
when scikit-image is installed, its data photographs. Nothing is drawn
synthetically: every image is a real photograph, degraded the way life does:

* sharp: a random crop (60-100% of each side), at most downscaled, never
  upscaled; mild sensor noise; JPEG at quality 75-95;
* blurry: the same, then one of defocus (disk point-spread function), motion
  (a line at any angle), Gaussian blur or camera shake (a short random walk),
  from barely visible to heavy;
* moire: the photograph shown on a screen (each pixel a 3x3 cell of vertical
  R, G, B sub-pixel stripes with a dark gap row) and captured by a camera at a
  small rotation and a non-integer pitch ratio, sampled without anti-aliasing,
  which aliases the sub-pixel grid into coloured beat fringes; the lens blur
  before sampling sets how strong they are.

The same seed gives the same files, byte for byte. ``labels.csv`` lists
``path,label`` with paths relative to its own folder.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

CLASSES = ("sharp", "blurry", "moire")
SKIMAGE_PHOTOS = ("astronaut", "chelsea", "coffee", "rocket", "motorcycle_left", "camera",
                  "page", "text", "coins", "immunohistochemistry", "retina", "hubble_deep_field")


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
    for name in SKIMAGE_PHOTOS:
        loader = getattr(data, name, None)
        if loader is None:
            continue
        try:
            img = loader()
        except Exception:  # a photo that needs a download is simply not used
            continue
        if img.ndim == 2:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        elif img.shape[2] == 4:
            img = cv2.cvtColor(img, cv2.COLOR_RGBA2BGR)
        else:
            img = cv2.cvtColor(img, cv2.COLOR_RGB2BGR)
        photos.append((name, np.ascontiguousarray(img.astype(np.uint8))))
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
        quality = int(rng.integers(75, 96))
        filename = f"{i:04d}_{name}_{how}.jpg"
        ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        if not ok:
            raise RuntimeError(f"JPEG encoding failed for {filename}")
        (out_dir / filename).write_bytes(encoded.tobytes())
        rows.append((filename, label))
    labels = out_dir / "labels.csv"
    with labels.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(("path", "label"))
        writer.writerows(rows)
    return labels


def degrade(photo: np.ndarray, label: str, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """One degraded copy of ``photo`` for ``label``, and a short word for how."""
    image = random_crop(photo, rng)
    if label == "moire":
        image, how = screen_capture(image, rng), "screen"
    elif label == "blurry":
        how = str(rng.choice(("defocus", "motion", "gaussian", "shake")))
        image = BLURS[how](image, rng)
    else:
        how = "sharp"
    return add_sensor_noise(image, rng), how


def random_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape[:2]
    ch, cw = int(h * rng.uniform(0.6, 1.0)), int(w * rng.uniform(0.6, 1.0))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return image[y:y + ch, x:x + cw].copy()


def add_sensor_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(0.5, 2.5)
    noisy = image.astype(np.float32) + rng.normal(0.0, sigma, image.shape).astype(np.float32)
    return np.clip(noisy + 0.5, 0, 255).astype(np.uint8)


def _filter(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    import cv2

    kernel = kernel.astype(np.float32)
    return cv2.filter2D(image, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REFLECT_101)


def defocus_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    radius = rng.uniform(1.5, 6.0)
    size = int(np.ceil(radius)) * 2 + 1
    yy, xx = np.mgrid[:size, :size] - size // 2
    return _filter(image, (xx ** 2 + yy ** 2 <= radius ** 2).astype(np.float32))


def motion_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    length = rng.uniform(4.0, 18.0)
    angle = rng.uniform(0.0, 180.0)
    size = int(np.ceil(length)) | 1
    kernel = np.zeros((size, size), np.float32)
    cv2.line(kernel, (0, size // 2), (size - 1, size // 2), 1.0, 1)
    rotation = cv2.getRotationMatrix2D((size / 2 - 0.5, size / 2 - 0.5), angle, 1.0)
    kernel = cv2.warpAffine(kernel, rotation, (size, size), flags=cv2.INTER_LINEAR)
    return _filter(image, kernel)


def gaussian_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    import cv2

    sigma = rng.uniform(1.0, 4.0)
    return cv2.GaussianBlur(image, (0, 0), sigma, borderType=cv2.BORDER_REFLECT_101)


def shake_blur(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    steps = rng.normal(0.0, 1.0, (24, 2)).cumsum(axis=0) * rng.uniform(0.3, 0.8)
    steps -= steps.mean(axis=0)
    size = int(np.ceil(np.abs(steps).max())) * 2 + 3
    kernel = np.zeros((size, size), np.float32)
    for dy, dx in steps:
        kernel[int(round(dy)) + size // 2, int(round(dx)) + size // 2] += 1.0
    return _filter(image, kernel)


BLURS = {"defocus": defocus_blur, "motion": motion_blur, "gaussian": gaussian_blur, "shake": shake_blur}


def screen_capture(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The photo on an RGB-stripe display, photographed: aliasing of the sub-pixel grid."""
    import cv2

    h, w = image.shape[:2]
    cell = 3
    screen = np.zeros((h * cell, w * cell, 3), np.float32)
    shown = np.repeat(np.repeat(image.astype(np.float32), cell, axis=0), cell, axis=1)
    for column, channel in enumerate((2, 1, 0)):  # R, G, B stripes in BGR order
        screen[:, column::cell, channel] = shown[:, column::cell, channel] * 3.0
    screen[cell - 1::cell, :, :] *= 0.35  # the dark gap between pixel rows
    lens_sigma = rng.uniform(0.2, 0.9)     # less lens blur, stronger fringes
    screen = cv2.GaussianBlur(screen, (0, 0), lens_sigma)
    pitch = rng.uniform(1.15, 1.9) * cell  # screen sub-pixels per camera pixel, non-integer
    angle = rng.uniform(-4.0, 4.0)
    out_w, out_h = max(1, int(w * cell / pitch)), max(1, int(h * cell / pitch))
    to_screen = cv2.getRotationMatrix2D((w * cell / 2, h * cell / 2), angle, pitch)
    to_screen[:, 2] += np.array([w * cell / 2, h * cell / 2]) - to_screen @ np.array(
        [out_w / 2, out_h / 2, 1.0])
    captured = cv2.warpAffine(screen, to_screen, (out_w, out_h),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT_101)
    gain = rng.uniform(0.8, 1.05)
    return np.clip(captured * gain, 0, 255).astype(np.uint8)
