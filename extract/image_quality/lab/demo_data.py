"""A labelled set (sharp / blurry / moire) made from photographs our dependencies ship.

This is the *training* generator. A second one, written apart with other
physics and ranges (``validation_data``), measures the model; it is never
used to fit or choose one.

Sources: the training scenes of ``photographs`` (scikit-learn's and scikit-image's
photographs, and with ``make photographs`` those Debian packages ship).
Every scene is a real photograph, degraded the way cameras, screens,
printers and messaging apps degrade them; only printed matter's text and
ruling are drawn (OpenCV's Hershey faces), and then photographed like the rest.

The images are made to look like the real camera photographs the model is
judged on (``bench/generator_vs_real.py`` sets them side by side, feature by
feature): screens photographed by phones, blurred captures, and sharp photos
that include printed pages and handwriting.

First an upload is drawn for each image (``UPLOADS``): 15% "small", 400-1000
px on the long side; 55% "messaging", 1000-1600 px, a phone photo a messaging
app resized and encoded again at q70-88 (WhatsApp sends 1600 px); 30%
"original", the phone's own 1600-4032 px file at q88-97. Blur strengths are set
in *analysis pixels* of that size (see ``decoding.ANALYSIS_LONG_SIDE``), so
"barely visible" means barely visible at the size every metric looks at.

* sharp: 35% printed matter (``PRINTED_SHARE``), photographed as below: a page
  of printed text (one or two columns, Hershey faces, 6-30 px text), a ruled
  notebook page written in a script face, or a printed picture (the
  photograph in CMYK halftone, dots at 15/75/0/45 degrees, resolved when they
  are at least ``MIN_HALFTONE_PERIOD`` px, averaged out when finer) with text
  below; the page lies on the photograph or fills the frame, turned up to 4
  degrees, tilted, under uneven light. A photo of a printed page is a sharp
  photo: its text and dots are the periodic texture real sharp photos carry.
  The rest: a crop of the photograph at any scale (12-100% of each side, so
  smooth regions such as sky or a page's margin are sharp images too), never
  enlarged; a document photograph may get wide white margins; half are then
  sharpened as phones do (unsharp mask), some smoothed by noise reduction
  (bilateral filter) or taken in low light (darker, sensor noise 4-10 levels);
* blurry: a crop resized to the upload size (enlarged if need be), then one of
  defocus (disk point-spread function, radius 1.2-6 analysis px), motion (a
  line of 3-16 analysis px at any angle), Gaussian (sigma 0.9-4) or camera
  shake (a random walk spanning 2-9 px);
* moire: a photo of a screen, and only that (a printed picture is sharp, see
  above). The photograph is shown on a display (RGB or BGR sub-pixel stripes
  with a dark gap between pixel rows, or a PenTile-like RGBG checkerboard),
  half the time enlarged to the screen from a smaller copy, and photographed
  square-on (70%: within about a degree) or turned up to 20 degrees, tilted up
  to 3%. The screen pixel is ``SCREEN_PERIOD`` = 1.3-6 pixels of the upload,
  as the real screens' grids are: the capture is made at the upload's size and
  each pixel integrates the sub-pixels over its own area plus some lens spread
  (``_box_coverage``), which is what a messaging app's area resize of a 3000-
  4032 px phone photo does too; what the pixels cannot resolve aliases into
  beats and colour fringes. Bright sub-pixels may clip.

Screens and printed matter go through one phone camera (``camera``): a Bayer
colour filter and OpenCV's demosaic, sensor noise (0.5-2.5 levels), noise
reduction (40%) and unsharp-mask sharpening (60%).

Every other image gets sensor noise (sigma 0.5-2.5 grey levels) at its final
size. Then JPEG (4:2:0) at the upload's quality; a quarter of the small and
messaging uploads are decoded and encoded again, as a forwarded image is.
The same seed gives the same files, byte for byte. ``labels.csv`` has ``path,label,photo,degradation``;
paths are relative to its folder and ``photo`` names the source, for
leave-one-photo-out validation.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..decoding import ANALYSIS_LONG_SIDE

CLASSES = ("sharp", "blurry", "moire")
# Where an upload comes from, as the real photographs it is judged against: (route, share, long
# side low, high). "messaging": a phone photo (3000-4032 px) a messaging app resized to 1000-1600
# px and encoded again at q70-88; "original": the phone's own file; "small": resized further.
UPLOADS = (("small", 0.15, 400, 1000), ("messaging", 0.55, 1000, 1600), ("original", 0.30, 1600, 4032))
JPEG_QUALITY = {"small": (50, 91), "messaging": (70, 89), "original": (88, 98)}
MAX_CAPTURE_SIDE = 1600   # blurs are made at most this large, then enlarged
SCREEN_PERIOD = (1.3, 4.5)         # a screen pixel, in pixels of the upload (log-uniform)
HALFTONE_PERIOD = (3.0, 8.0)       # a print's dot pitch per 12 px of text height (upload px)
MIN_HALFTONE_PERIOD = 2.0          # finer dots are averaged out by the upload's pixels
HALFTONE_SHARE = 0.3               # of printed pictures with coarser dots: resolved halftone
PRINTED_SHARE = 0.35               # of sharp images: printed matter (pages, notebooks, printed pictures)
STRIP_ROWS = 512
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
    route, long_side = upload(rng)
    image, how, noisy = degrade(photo, label, rng, long_side, route, document=name in _DOCUMENTS)
    if not noisy:
        image = add_sensor_noise(image, rng)
    filename = f"{i:04d}_{name}_{how}.jpg"
    encoded = _jpeg(image, int(rng.integers(*JPEG_QUALITY[route])))
    if route != "original" and rng.random() < 0.25:  # sent on again: a second encoding
        encoded = _jpeg(cv2.imdecode(np.frombuffer(encoded, np.uint8), cv2.IMREAD_COLOR),
                        int(rng.integers(*JPEG_QUALITY[route])))
    (out_dir / filename).write_bytes(encoded)
    return filename, label, name, how


def _jpeg(image: np.ndarray, quality: int) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def upload(rng: np.random.Generator) -> tuple[str, int]:
    """A route and a long side drawn from ``UPLOADS``."""
    shares = np.array([share for _, share, _, _ in UPLOADS])
    route, _, low, high = UPLOADS[int(rng.choice(len(UPLOADS), p=shares / shares.sum()))]
    return route, int(rng.integers(low, high + 1))


def degrade(photo: np.ndarray, label: str, rng: np.random.Generator, long_side: int,
            route: str = "original", *, document: bool = False) -> tuple[np.ndarray, str, bool]:
    """One degraded copy of ``photo`` for ``label`` at ``long_side``, a short word for how, and
    whether it went through the camera model already (sensor noise included)."""
    if label == "sharp":
        if rng.random() < PRINTED_SHARE:
            image, how = printed_capture(photo, rng, long_side)
            return image, how, True
        image, how = sharp_copy(photo, long_side, rng, document)
        return image, how, how.startswith("lowlight")
    if label == "blurry":
        # blurred at most MAX_CAPTURE_SIDE large (enlarging it further only blurs it more)
        image = resize_long_side(random_crop(photo, rng, 0.3), min(long_side, MAX_CAPTURE_SIDE))
        how = str(rng.choice(tuple(BLURS)))
        return resize_long_side(BLURS[how](image, rng, analysis_scale(image)), long_side), how, False
    image, how = screen_capture(random_crop(photo, rng, 0.4), rng, long_side)
    return image, how, True


def sharp_copy(photo: np.ndarray, long_side: int, rng: np.random.Generator,
               document: bool) -> tuple[np.ndarray, str]:
    """A crop at any scale, never enlarged, mostly sharpened as phones do, sometimes denoised or in low light."""
    import cv2

    # at least 2x the upload where the photograph allows: a phone's photo is reduced to be sent
    image = random_crop(photo, rng, min(1.0, max(0.12, 2 * long_side / max(photo.shape[:2]))))
    how = "sharp"
    if document and rng.random() < 0.6:
        image, how = add_margins(image, rng), "sharp-margins"
    if max(image.shape[:2]) > long_side:
        image = resize_long_side(image, long_side)
    treatment = rng.random()
    if treatment < 0.7:     # phone sharpening: unsharp mask
        soft = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 1.6))
        image = cv2.addWeighted(image, 1 + rng.uniform(0.3, 1.0), soft, -rng.uniform(0.3, 1.0), 0)
        how += "-sharpened"
    elif treatment < 0.78:  # phone noise reduction
        image = cv2.bilateralFilter(image, 5, rng.uniform(10, 30), 3)
        how += "-denoised"
    elif treatment < 0.9:   # low light: darker, much noisier
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


# --- the camera ------------------------------------------------------------------------


def _strips(height: int, rows: int = STRIP_ROWS):
    """Row ranges of at most ``rows``: big captures are rendered a strip at a time to bound memory."""
    for y0 in range(0, height, rows):
        yield y0, min(height, y0 + rows)


def bayer_demosaic(image: np.ndarray) -> np.ndarray:
    """The camera's colour filter: keep one channel per pixel (R G / G B), then OpenCV's demosaic."""
    import cv2

    raw = np.empty(image.shape[:2], np.uint8)
    raw[0::2, 0::2] = image[0::2, 0::2, 2]
    raw[0::2, 1::2] = image[0::2, 1::2, 1]
    raw[1::2, 0::2] = image[1::2, 0::2, 1]
    raw[1::2, 1::2] = image[1::2, 1::2, 0]
    return cv2.cvtColor(raw, cv2.COLOR_BayerBG2BGR)


def _phone_processing(image: np.ndarray, rng: np.random.Generator, sharpen: float = 0.6) -> np.ndarray:
    """What a phone's camera app may do to a capture: noise reduction, then sharpening."""
    import cv2

    if rng.random() < 0.4:
        image = cv2.bilateralFilter(image, 5, rng.uniform(10, 30), 3)
    if rng.random() < sharpen:
        soft = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.8, 1.5))
        amount = rng.uniform(0.3, 1.0)
        image = cv2.addWeighted(image, 1 + amount, soft, -amount, 0)
    return image


def camera(scene: np.ndarray, rng: np.random.Generator, sharpen: float = 0.6) -> np.ndarray:
    """A phone photographing ``scene`` (float BGR, already through the lens): colour filter and
    demosaic, sensor noise, noise reduction and sharpening.

    The capture is made at the upload's size: a messaging app's area resize from the phone's
    3000-4032 px integrates several camera pixels into one, which the capture's own pixel
    integral (``_box_coverage``, its box one upload pixel wide) stands for, at a fraction of
    the cost. So a screen's grid or a print's dots land at the upload's pixel scale."""
    import cv2

    image = add_sensor_noise(bayer_demosaic(np.clip(scene + 0.5, 0, 255).astype(np.uint8)), rng)
    # chroma noise reduction: phones smooth colour far more than brightness
    ycc = cv2.cvtColor(image, cv2.COLOR_BGR2YCrCb)
    ycc[:, :, 1:] = cv2.GaussianBlur(ycc[:, :, 1:], (0, 0), rng.uniform(1.0, 3.0))
    image = cv2.cvtColor(ycc, cv2.COLOR_YCrCb2BGR)
    return _phone_processing(image, rng, sharpen)


def _frame(image: np.ndarray, long_side: int) -> tuple[int, int]:
    """(width, height) of a capture with ``image``'s aspect and ``long_side``."""
    h, w = image.shape[:2]
    s = long_side / max(h, w)
    return max(16, round(w * s)), max(16, round(h * s))


def _homography(width: int, height: int, scale: float, angle: float, keystone: float,
                rng: np.random.Generator, centre: tuple[float, float]) -> np.ndarray:
    """Camera pixel -> surface coordinates: turned by ``angle`` degrees, ``scale`` surface units per
    camera pixel, the camera tilted so that each corner moves by up to ``keystone`` of the frame."""
    import cv2

    corners = np.float32([[0, 0], [width, 0], [width, height], [0, height]])
    moved = corners + (rng.uniform(-keystone, keystone, (4, 2)) * [width, height]).astype(np.float32)
    tilt = cv2.getPerspectiveTransform(corners, moved)
    turn = np.eye(3)
    turn[:2] = cv2.getRotationMatrix2D((width / 2, height / 2), angle, scale)
    turn[:2, 2] += np.array(centre) - np.array([width / 2, height / 2])
    return turn @ tilt


def _surface_coordinates(m: np.ndarray, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    (a, b, c), (d, e, f), (g, h, k) = (map(float, row) for row in m)   # Python floats keep float32 arrays float32
    den = g * x + h * y + k
    return (a * x + b * y + c) / den, (d * x + e * y + f) / den


def _box_coverage(t: np.ndarray, start: float, width: float, box: float) -> np.ndarray:
    """Share of ``[t - box/2, t + box/2]`` inside the periodic set ``frac(t) in [start, start + width)``:
    a camera pixel's area integral over a stripe of a grid of period 1."""
    def cumulative(s):
        whole = np.floor(s)
        return whole * width + np.clip(s - whole - start, 0, width)
    return (cumulative(t + box / 2) - cumulative(t - box / 2)) / box


# --- moire: photos of screens ----------------------------------------------------------


# Sub-pixel layouts: RGB or BGR vertical stripes with a dark gap between pixel rows, and a
# PenTile-like RGBG checkerboard (green on every other sub-pixel, red and blue between).
SCREEN_LAYOUTS = ("rgb", "bgr", "pentile")


def screen_capture(image, rng, final_long_side):
    """The photo on a display, photographed by a phone; returns the image at ``final_long_side``.

    The screen pixel is ``SCREEN_PERIOD`` final-image pixels (log-uniform), so its grid is at the
    pixel scale of the upload; the camera integrates the sub-pixels over its own pixel's area
    (and a little lens spread), so whatever does not fit the camera's pixels aliases into beats.
    """
    import cv2

    width, height = _frame(image, final_long_side)
    ratio = float(np.exp(rng.uniform(*np.log(SCREEN_PERIOD))))   # upload pixels per screen pixel
    layout = str(rng.choice(SCREEN_LAYOUTS))
    angle = rng.normal(0, 1.0) if rng.random() < 0.7 else rng.uniform(-20, 20)
    keystone = rng.uniform(0, 0.03)
    # what the screen shows: the photo at the screen's resolution, or enlarged to it from less
    screen_w, screen_h = int(width / ratio) + 4, int(height / ratio) + 4
    shown = image
    if rng.random() < 0.5:
        shown = resize_long_side(shown, max(16, int(max(screen_w, screen_h) / rng.uniform(1.2, 2.0))))
    shown = cv2.resize(shown, (screen_w, screen_h),
                       interpolation=cv2.INTER_AREA if shown.shape[1] > screen_w else cv2.INTER_CUBIC)
    shown = shown.astype(np.float32)
    m = _homography(width, height, 1 / ratio, angle, keystone, rng, (screen_w / 2, screen_h / 2))
    box = (1 + rng.uniform(0.5, 2.0)) / ratio   # upload pixel and lens spread, in screen pixels
    fill = rng.uniform(0.75, 0.95)              # lit share of a sub-pixel's width
    gap, gap_level = rng.uniform(0.1, 0.35), rng.uniform(0.0, 0.3)
    order = (2, 1, 0) if layout == "rgb" else (0, 1, 2)   # BGR channel of stripes 0, 1, 2
    scene = np.empty((height, width, 3), np.float32)
    xs = np.arange(width, dtype=np.float32)[None, :] + np.float32(0.5)
    for y0, y1 in _strips(height):
        ys = np.arange(y0, y1, dtype=np.float32)[:, None] + np.float32(0.5)
        u, v = _surface_coordinates(m, xs, ys)
        colour = cv2.remap(shown, np.floor(u).astype(np.float32), np.floor(v).astype(np.float32),
                           cv2.INTER_NEAREST, borderMode=cv2.BORDER_REFLECT_101)
        strip = scene[y0:y1]
        if layout == "pentile":
            dot = 0.5 * fill
            lit = (_box_coverage(2 * u, (0.5 - dot) / 2, dot, 2 * box)
                   * _box_coverage(2 * v, (0.5 - dot) / 2, dot, 2 * box)) / (dot * dot)
            i, j = np.floor(2 * u).astype(np.int32) & 1, np.floor(2 * v).astype(np.int32) & 1
            green = (i == j)
            strip[:] = 0
            strip[..., 1] = np.where(green, colour[..., 1] * lit * 2, 0)
            strip[..., 2] = np.where(~green & (j == 0), colour[..., 2] * lit * 4, 0)
            strip[..., 0] = np.where(~green & (j == 1), colour[..., 0] * lit * 4, 0)
        else:
            rows = gap_level + (1 - gap_level) * _box_coverage(v, 0.0, 1 - gap, box)
            rows /= (1 - gap) + gap * gap_level
            width_lit = fill / 3
            for stripe, channel in enumerate(order):
                start = (stripe + (1 - fill) / 2) / 3
                strip[..., channel] = colour[..., channel] * rows * _box_coverage(u, start, width_lit, box) / width_lit
    scene *= np.float32(rng.uniform(0.7, 1.0))   # exposure: bright sub-pixels may clip
    glare = np.float32(rng.uniform(0.0, 0.3))      # room light reflected by the screen's glass
    scene = scene * (1 - glare) + glare * np.float32(rng.uniform(120, 230))
    scene = cv2.GaussianBlur(scene, (0, 0), rng.uniform(0.5, 1.2))   # lens focused on a glass-covered screen
    how = f"screen_{layout}"
    return camera(scene, rng, sharpen=0.3), how


# --- printed matter (sharp) ------------------------------------------------------------


FONTS = (0, 1, 2, 3, 4, 5)     # OpenCV's Hershey faces: simplex, plain, duplex, complex, triplex, small
SCRIPT_FONTS = (6, 7)          # script simplex, script complex: handwriting
LETTERS = "abcdefghijklmnopqrstuvwxyzaeiouetaoinshr"


def _words(rng: np.random.Generator, count: int) -> str:
    lengths = rng.integers(1, 10, count)
    picks = rng.integers(0, len(LETTERS), int(lengths.sum()))
    text, k = [], 0
    for n in lengths:
        text.append("".join(LETTERS[c] for c in picks[k:k + n]))
        k += n
    if rng.random() < 0.3:
        text[0] = text[0].capitalize()
    return " ".join(text)


def halftone(picture: np.ndarray, rng: np.random.Generator, period: float) -> np.ndarray:
    """``picture`` (BGR uint8) printed with CMYK dot screens at 15/75/0/45 degrees, ``period`` px per
    dot, each dot's edge spread by the ink; returns float BGR 0-255 at the same size."""
    h, w = picture.shape[:2]
    rgb = picture[:, :, ::-1].astype(np.float32) / 255
    cmy = 1.0 - rgb
    k = cmy.min(axis=2, keepdims=True) * np.float32(rng.uniform(0.5, 1.0))
    inks = np.concatenate([(cmy - k) / np.maximum(1 - k, 1e-3), k], axis=2)
    ink_colours = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [0, 0, 0]], np.float32)  # C, M, Y, K in BGR
    spread = np.float32(rng.uniform(0.15, 0.4))
    printed = np.ones((h, w, 3), np.float32)
    xs = np.arange(w, dtype=np.float32)[None, :]
    angles = [np.deg2rad(d + rng.uniform(-2, 2)) for d in (15, 75, 0, 45)]
    for y0, y1 in _strips(h):
        ys = np.arange(y0, y1, dtype=np.float32)[:, None]
        for index, theta in enumerate(angles):
            u = (xs * np.cos(theta) + ys * np.sin(theta)) * np.float32(2 * np.pi / period)
            v = (ys * np.cos(theta) - xs * np.sin(theta)) * np.float32(2 * np.pi / period)
            dots = 0.25 * (2 + np.cos(u) + np.cos(v))
            covered = np.clip((inks[y0:y1, :, index] - dots) / spread + 0.5, 0, 1)[:, :, None]
            printed[y0:y1] *= 1 - covered * (1 - ink_colours[index])
    return printed * 255


def printed_page(photo: np.ndarray, rng: np.random.Generator, width: int, height: int,
                 text_height: float) -> tuple[np.ndarray, str]:
    """A page at ``width`` x ``height``: printed text (a book, a form), a ruled notebook page written
    by hand, or a printed picture (the photo in halftone) with text; BGR float 0-255."""
    import cv2

    kind = str(rng.choice(("text", "notebook", "picture"), p=(0.45, 0.3, 0.25)))
    paper = np.array([rng.uniform(225, 252)] * 3) - rng.uniform(0, 12, 3)
    page = np.empty((height, width, 3), np.uint8)
    page[:] = paper.astype(np.uint8)
    margin_x, margin_y = int(width * rng.uniform(0.04, 0.12)), int(height * rng.uniform(0.04, 0.1))
    top = margin_y
    if kind == "picture":
        pw = int((width - 2 * margin_x) * rng.uniform(0.5, 1.0))
        ph = int(min(height - 2 * margin_y, pw * photo.shape[0] / photo.shape[1]))
        pw, ph = max(16, pw), max(16, ph)
        picture = cv2.resize(random_crop(photo, rng, 0.5), (pw, ph), interpolation=cv2.INTER_AREA)
        period = rng.uniform(*HALFTONE_PERIOD) * text_height / 12
        x0 = int(rng.integers(margin_x, max(margin_x + 1, width - margin_x - pw + 1)))
        if period >= MIN_HALFTONE_PERIOD and rng.random() < HALFTONE_SHARE:   # else too fine, or a photo print
            picture = np.clip(halftone(picture, rng, period), 0, 255).astype(np.uint8)
        page[top:top + ph, x0:x0 + pw] = picture
        top += ph + int(text_height)
    font = int(rng.choice(SCRIPT_FONTS if kind == "notebook" else FONTS))
    scale = text_height / 22.0
    thick = max(1, int(round(scale * rng.uniform(1.0, 2.0))))
    ink = (rng.uniform(120, 200), rng.uniform(20, 80), rng.uniform(0, 40)) if kind == "notebook" and rng.random() < 0.6 \
        else tuple([rng.uniform(0, 50)] * 3)
    spacing = text_height * rng.uniform(1.5, 2.4)
    if kind == "notebook":   # ruled lines and a margin line, then the handwriting on them
        for y in np.arange(top + spacing, height - margin_y / 2, spacing):
            cv2.line(page, (0, int(y)), (width, int(y)), (210, 170, 140), max(1, thick // 2), cv2.LINE_AA)
        cv2.line(page, (margin_x, 0), (margin_x, height), (120, 120, 230), max(1, thick // 2), cv2.LINE_AA)
    columns = 2 if kind != "notebook" and rng.random() < 0.3 else 1
    column_w = (width - 2 * margin_x) // columns
    y = top + spacing
    while y < height - margin_y:
        for c in range(columns):
            line = _words(rng, int(rng.integers(3, 14)))
            (tw, _), _ = cv2.getTextSize(line, font, scale, thick)
            while tw > column_w and len(line) > 3:
                line = line[: int(len(line) * column_w / tw) - 1]
                (tw, _), _ = cv2.getTextSize(line, font, scale, thick)
            if rng.random() < 0.9:
                cv2.putText(page, line, (margin_x + c * column_w, int(y)), font, scale, ink, thick, cv2.LINE_AA)
        y += spacing * (2.0 if rng.random() < 0.08 else 1.0)   # now and then a paragraph break
    return page.astype(np.float32), f"printed_{kind}"


def printed_capture(photo, rng, final_long_side):
    """A printed page photographed by a phone, lying on the scene's photo or cropped to the page."""
    import cv2

    capture = final_long_side
    aspect = rng.choice((4 / 3, 3 / 4, 1.0, 16 / 9, 9 / 16))
    width, height = (capture, int(capture / aspect)) if aspect >= 1 else (int(capture * aspect), capture)
    # text of 6-30 px at the upload's size (a page from across the desk to a close-up)
    text_height = float(np.exp(rng.uniform(np.log(6), np.log(30))))
    page_scale = rng.uniform(0.75, 1.0)
    page, how = printed_page(photo, rng, int(width * page_scale), int(height * page_scale), text_height * page_scale)
    background = cv2.resize(photo, (width, height), interpolation=cv2.INTER_AREA).astype(np.float32)
    m = _homography(width, height, 1.0, rng.uniform(-4, 4), rng.uniform(0, 0.04), rng,
                    (page.shape[1] / 2, page.shape[0] / 2))
    mask = np.ones(page.shape[:2], np.float32)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    placed = cv2.warpPerspective(page, m, (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT)
    cover = cv2.warpPerspective(mask, m, (width, height), flags=flags, borderMode=cv2.BORDER_CONSTANT)[:, :, None]
    scene = placed + (1 - cover) * background
    # uneven light: a linear ramp across the frame
    ramp = np.linspace(rng.uniform(0.7, 1.0), rng.uniform(0.9, 1.05), width if rng.random() < 0.5 else height,
                       dtype=np.float32)
    scene *= ramp[None, :, None] if len(ramp) == width else ramp[:, None, None]
    scene = cv2.GaussianBlur(scene, (0, 0), rng.uniform(0.2, 0.6))   # the lens, in focus
    return camera(scene, rng, sharpen=0.9), how   # phones sharpen text hard
