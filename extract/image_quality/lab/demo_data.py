"""A labelled set (sharp / blurry / moire) made from photographs our dependencies ship.

This is the *training* generator. A second one, written apart with other
physics and ranges (``validation_data``), measures the model; it is never
used to fit or choose one.

Sources: the training scenes of ``photographs`` (scikit-learn's and scikit-image's
photographs, and with ``make photographs`` those Debian packages ship).
Nothing is drawn: every image is a real photograph, degraded the
way cameras, screens and messaging apps degrade them.

First an upload size is drawn for each image (``UPLOAD_SIZES``): a third are
small, 150-700 px on the long side as messaging apps resize uploads, a third
700-1600 px, a third phone-sized, 1600-4032 px. Strengths are then set in
*analysis pixels* of that size (see ``decoding.ANALYSIS_LONG_SIDE``), so
"barely visible" means barely visible at the size every metric looks at.

* sharp: a crop at any scale (12-100% of each side, so smooth regions such as
  sky or a page's margin are sharp images too), never enlarged; a document
  photograph may get wide white margins; some are then sharpened as phones do
  (unsharp mask), smoothed by noise reduction (bilateral filter), or taken in
  low light (darker, with sensor noise of 4-10 grey levels);
* blurry: a crop resized to the upload size (enlarged if need be), then one of
  defocus (disk point-spread function, radius 1.2-6 analysis px), motion (a
  line of 3-16 analysis px at any angle), Gaussian (sigma 0.9-4) or camera
  shake (a random walk spanning 2-9 px);
* moire: the photograph captured through a periodic structure that aliases:
  a screen (each pixel a cell of R, G, B or B, G, R sub-pixel stripes with a
  dark row gap, or a PenTile-like checkerboard; photographed at 0-45 degrees,
  tilted up to 6% of the frame, at 0.75-2.5 camera pixels per screen pixel,
  then perhaps denoised and sharpened as a phone's camera app does), halftone
  print (CMYK dot screens at 15/75/0/45 degrees, photographed near the dot
  pitch), or fine fabric (a weave finer than the camera's pixels, sampled
  without anti-aliasing). The capture is made at the upload size (at most
  ``MAX_MOIRE_SIDE``; larger uploads are enlarged from it), so no resampling
  averages the aliasing away. Lens blur and pattern contrast run from faint to
  strong.

Every image then gets sensor noise (sigma 0.5-2.5 grey levels, at its final
size) and JPEG encoding at quality 50-95; a quarter are decoded and encoded
again at quality 60-90, as messaging apps re-encode. The same seed gives the
same files, byte for byte. ``labels.csv`` has ``path,label,photo,degradation``;
paths are relative to its folder and ``photo`` names the source, for
leave-one-photo-out validation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..decoding import ANALYSIS_LONG_SIDE

CLASSES = ("sharp", "blurry", "moire")
# Long sides of uploads, by band: (low, high, share).
UPLOAD_SIZES = ((150, 700, 1 / 3), (700, 1600, 1 / 3), (1600, 4032, 1 / 3))
MAX_CAPTURE_SIDE = 1600   # blurs are made at most this large, then enlarged
# Moire captures are simulated at most this large (a halftone's dots, a screen's sub-pixels
# take several scene pixels each), then enlarged: the beats survive, the cost stays bounded.
MAX_MOIRE_SIDE = {"screen": 640, "halftone": 512, "fabric": 640}
DOCUMENT_KINDS = frozenset({"document"})


def source_photographs() -> list[tuple[str, np.ndarray]]:
    """(name, BGR uint8 image) for every photograph our dependencies ship, of either split."""
    from .photographs import photographs

    return photographs("all", shipped_only=True)


def write_demo_set(out: str, *, n: int = 24, seed: int = 0, shipped_only: bool = True,
                   workers: int | None = None) -> Path:
    """Write ``n`` labelled JPEGs into ``out`` (classes in turn); returns the labels.csv path.

    The photographs are the training scenes (``photographs``' "train" split):
    those our dependencies ship, or with ``shipped_only=False`` the Debian ones
    ``make photographs`` installs too. Image ``i`` depends on ``(seed, i)``
    only, so ``workers`` processes (default: one per CPU) write the same bytes
    as one.
    """
    import multiprocessing
    import os

    from .photographs import catalogue
    from .training import write_labels

    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    entries = catalogue("train", shipped_only=shipped_only)
    global _PHOTOS, _DOCUMENTS
    _PHOTOS = [(p.name, img) for p in entries if (img := p.image()) is not None]
    _DOCUMENTS = frozenset(p.name for p in entries if p.kind in DOCUMENT_KINDS)
    jobs = [(out_dir, seed, i) for i in range(n)]
    workers = min(workers or os.cpu_count() or 1, max(1, n // 8))
    if workers > 1:  # forked workers share the loaded photographs
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            rows = pool.starmap(_write_one, jobs, chunksize=1)
    else:
        rows = [_write_one(*job) for job in jobs]
    labels = out_dir / "labels.csv"
    write_labels(labels, rows)
    return labels


_PHOTOS: list[tuple[str, np.ndarray]] = []
_DOCUMENTS: frozenset[str] = frozenset()


def _write_one(out_dir: Path, seed: int, i: int) -> tuple[str, str, str, str]:
    import cv2

    rng = np.random.default_rng([seed, i])
    label = CLASSES[i % len(CLASSES)]
    name, photo = _PHOTOS[(i // len(CLASSES)) % len(_PHOTOS)]
    image, how = degrade(photo, label, rng, document=name in _DOCUMENTS)
    if not how.startswith("lowlight"):
        image = add_sensor_noise(image, rng)
    filename = f"{i:04d}_{name}_{how}.jpg"
    encoded = _jpeg(image, int(rng.integers(50, 96)))
    if rng.random() < 0.25:  # a messaging app's second encoding
        encoded = _jpeg(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR),
                        int(rng.integers(60, 91)))
    (out_dir / filename).write_bytes(encoded)
    return filename, label, name, how


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def upload_long_side(rng: np.random.Generator) -> int:
    """A long side drawn from ``UPLOAD_SIZES``."""
    shares = np.array([share for _, _, share in UPLOAD_SIZES])
    low, high, _ = UPLOAD_SIZES[int(rng.choice(len(UPLOAD_SIZES), p=shares / shares.sum()))]
    return int(rng.integers(low, high + 1))


def degrade(photo: np.ndarray, label: str, rng: np.random.Generator, *,
            document: bool = False) -> tuple[np.ndarray, str]:
    """One degraded copy of ``photo`` for ``label``, and a short word for how."""
    long_side = upload_long_side(rng)
    if label == "sharp":
        return sharp_copy(photo, long_side, rng, document)
    if label == "blurry":
        # blurred at most MAX_CAPTURE_SIDE large (enlarging it further only blurs it more)
        image = resize_long_side(random_crop(photo, rng, 0.3), min(long_side, MAX_CAPTURE_SIDE))
        how = str(rng.choice(tuple(BLURS)))
        return resize_long_side(BLURS[how](image, rng, analysis_scale(image)), long_side), how
    how = str(rng.choice(tuple(MOIRES)))
    captured = MOIRES[how](random_crop(photo, rng, 0.4), rng, min(long_side, MAX_MOIRE_SIDE[how]))
    return resize_long_side(captured, long_side), how


def sharp_copy(photo: np.ndarray, long_side: int, rng: np.random.Generator,
               document: bool) -> tuple[np.ndarray, str]:
    """A crop at any scale, never enlarged, sometimes sharpened, denoised or in low light."""
    import cv2

    image = random_crop(photo, rng, 0.12)
    how = "sharp"
    if document and rng.random() < 0.6:
        image, how = add_margins(image, rng), "sharp-margins"
    if max(image.shape[:2]) > long_side:
        image = resize_long_side(image, long_side)
    treatment = rng.random()
    if treatment < 0.15:    # phone sharpening: unsharp mask
        soft = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 1.6))
        image = cv2.addWeighted(image, 1 + rng.uniform(0.3, 1.0), soft, -rng.uniform(0.3, 1.0), 0)
        how += "-sharpened"
    elif treatment < 0.25:  # phone noise reduction
        image = cv2.bilateralFilter(image, 5, rng.uniform(10, 30), 3)
        how += "-denoised"
    elif treatment < 0.4:   # low light: darker, much noisier
        dark = image.astype(np.float32) * rng.uniform(0.3, 0.6)
        noisy = dark + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(rng.uniform(4.0, 10.0))
        image = np.clip(noisy + 0.5, 0, 255).astype(np.uint8)
        how = "lowlight-" + how
    return image, how


def add_margins(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A document with wide paper margins (20-60% of each side), paper-white with slight noise."""
    import cv2

    h, w = image.shape[:2]
    top, bottom = (int(h * rng.uniform(0.1, 0.3)) for _ in range(2))
    left, right = (int(w * rng.uniform(0.1, 0.3)) for _ in range(2))
    paper = [int(v) for v in rng.integers(225, 250, 3)]
    return cv2.copyMakeBorder(image, top, bottom, left, right, cv2.BORDER_CONSTANT, value=paper)


def resize_long_side(image: np.ndarray, long_side: int) -> np.ndarray:
    """Area-averaged down, or bicubic up, to ``long_side`` px on the longer side."""
    import cv2

    h, w = image.shape[:2]
    scale = long_side / max(h, w)
    if scale == 1:
        return image
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC)


def analysis_scale(image: np.ndarray) -> float:
    """Image pixels per analysis pixel."""
    return max(1.0, max(image.shape[:2]) / ANALYSIS_LONG_SIDE)


def random_crop(image: np.ndarray, rng: np.random.Generator, smallest: float = 0.55) -> np.ndarray:
    """A crop of ``smallest``-100% of each side (at least 16 px)."""
    h, w = image.shape[:2]
    ch = min(h, max(16, int(h * rng.uniform(smallest, 1.0))))
    cw = min(w, max(16, int(w * rng.uniform(smallest, 1.0))))
    y, x = int(rng.integers(0, h - ch + 1)), int(rng.integers(0, w - cw + 1))
    return image[y:y + ch, x:x + cw].copy()


def add_sensor_noise(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    sigma = rng.uniform(0.5, 2.5)
    noisy = image.astype(np.float32) + rng.standard_normal(image.shape, dtype=np.float32) * np.float32(sigma)
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


def _capture(scene: np.ndarray, pitch: float, angle: float, lens_sigma: float,
             keystone: float = 0.0, rng: np.random.Generator | None = None) -> np.ndarray:
    """Photograph ``scene`` (float BGR): lens blur, then point sampling every ``pitch`` scene px,
    turned by ``angle`` degrees, with the camera tilted so that each corner moves by up to
    ``keystone`` of the frame (perspective)."""
    import cv2

    h, w = scene.shape[:2]
    if lens_sigma > 0:
        scene = cv2.GaussianBlur(scene, (0, 0), lens_sigma)
    out_w, out_h = max(1, int(w / pitch)), max(1, int(h / pitch))
    to_scene = np.eye(3)
    to_scene[:2] = cv2.getRotationMatrix2D((0.0, 0.0), angle, pitch)
    to_scene[:2, 2] = np.array([w / 2, h / 2]) - to_scene[:2, :2] @ np.array([out_w / 2, out_h / 2])
    if keystone > 0 and rng is not None:
        corners = np.float32([[0, 0], [out_w, 0], [out_w, out_h], [0, out_h]])
        moved = corners + (rng.uniform(-keystone, keystone, (4, 2)) * [out_w, out_h]).astype(np.float32)
        to_scene = to_scene @ cv2.getPerspectiveTransform(corners, moved)
    return cv2.warpPerspective(scene, to_scene, (out_w, out_h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REFLECT_101)


def _phone_processing(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What a phone's camera app may do to a capture: noise reduction, then sharpening."""
    import cv2

    if rng.random() < 0.4:
        image = cv2.bilateralFilter(image, 5, rng.uniform(10, 30), 3)
    if rng.random() < 0.5:
        soft = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 1.5))
        amount = rng.uniform(0.2, 0.8)
        image = cv2.addWeighted(image, 1 + amount, soft, -amount, 0)
    return image


def _shown_at(image: np.ndarray, long_side: float) -> np.ndarray:
    """The scene resized so that its capture comes out near the wanted size."""
    return resize_long_side(image, max(16, int(round(long_side))))


# Sub-pixel layouts, as (rows, columns) of BGR channel indices per cell: stripes either way round,
# and a PenTile-like checkerboard (green on every other sub-pixel, red and blue between).
SCREEN_LAYOUTS = {
    "rgb": ((2, 1, 0),),
    "bgr": ((0, 1, 2),),
    "pentile": ((1, 2), (0, 1)),
}


def screen_capture(image, rng, out_long_side):
    """The photo on a display (stripes or PenTile), photographed at an angle, tilted, near the pitch."""
    import cv2

    zoom = int(rng.integers(1, 3))
    ratio = rng.uniform(0.75, 2.5)   # camera pixels per screen pixel
    layout = SCREEN_LAYOUTS[str(rng.choice(tuple(SCREEN_LAYOUTS)))]
    cell_h, cell_w = len(layout), len(layout[0])
    cell = max(cell_h, cell_w) if cell_h == 1 else cell_w   # scene px per screen pixel, each way
    image = _shown_at(image, out_long_side * ratio / zoom)
    h, w = image.shape[:2]
    # each shown pixel becomes zoom x zoom screen pixels of cell x cell scene px (nearest neighbour)
    screen = cv2.resize(image, (w * zoom * cell, h * zoom * cell), interpolation=cv2.INTER_NEAREST)
    mask = np.zeros((cell, cell, 3), np.float32)   # one screen pixel: which channel each scene px emits
    gain = float(cell_h * cell_w) / 2 if cell_h > 1 else 3.0
    for row in range(cell):
        for column in range(cell):
            mask[row, column, layout[row % cell_h][column % cell_w]] = gain
    if cell_h == 1:
        mask[cell - 1] *= rng.uniform(0.2, 0.6)  # the dark gap between pixel rows
    reps = (screen.shape[0] // cell, screen.shape[1] // cell, 1)
    subpixels = cv2.multiply(screen.astype(np.float32), np.tile(mask, reps))
    # camera pixels per screen pixel: a non-integer ratio aliases the sub-pixel grid
    angle = rng.uniform(0, 45) * rng.choice((-1, 1))
    captured = _capture(subpixels, cell * ratio, angle, rng.uniform(0.25, 1.1), rng.uniform(0, 0.06), rng)
    captured = np.clip(captured * rng.uniform(0.9, 1.15), 0, 255).astype(np.uint8)
    return _phone_processing(captured, rng)


def halftone_capture(image, rng, out_long_side):
    """The photo printed with CMYK halftone dot screens, photographed near the dot pitch."""
    import cv2

    upsample = 4
    period = rng.uniform(3.5, 6.0)
    ratio = rng.uniform(0.55, 1.4)
    image = _shown_at(image, out_long_side * period * ratio / upsample)
    big = cv2.resize(image, None, fx=upsample, fy=upsample, interpolation=cv2.INTER_LINEAR).astype(np.float32) / 255
    cmy = 1.0 - big[:, :, ::-1]                     # C, M, Y from R, G, B
    k = cmy.min(axis=2, keepdims=True) * rng.uniform(0.5, 1.0)
    inks = np.concatenate([(cmy - k) / np.maximum(1 - k, 1e-3), k], axis=2)
    h, w = big.shape[:2]
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
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
    captured = _capture(scene, period * ratio, rng.uniform(-4, 4), rng.uniform(0.3, 1.0))
    return np.clip(captured, 0, 255).astype(np.uint8)


def fabric_capture(image, rng, out_long_side):
    """A weave finer than the camera's pixels across the scene, sampled without anti-aliasing."""
    import cv2

    upsample = 3
    ratio = rng.uniform(0.95, 1.15)
    image = _shown_at(image, out_long_side * ratio)
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
    captured = _capture(scene, upsample * ratio, rng.uniform(-3, 3), rng.uniform(0.0, 0.5))
    return np.clip(captured * (1 + contrast * 0.5), 0, 255).astype(np.uint8)


MOIRES = {"screen": screen_capture, "halftone": halftone_capture, "fabric": fabric_capture}
