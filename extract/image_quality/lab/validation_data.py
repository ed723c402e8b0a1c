"""A labelled validation set (sharp / blurry / moire) made by other physics than the training set's.

Written apart from ``demo_data`` (the training generator) on purpose: a model
validated on the generator it was fitted to measures the generator. Here every
image goes through one camera model, whatever its class:

    scene -> optics (blur / screen capture) in linear light -> sensor noise
    -> Bayer colour filter and demosaic -> noise reduction -> sharpening
    -> gamma -> JPEG, or a messaging app's resize and second JPEG

* **sizes**: the long side is drawn from three bands, about 45% 150-700 px
  (as messaging apps resize uploads), 25% 700-1500, 30% 1500-4032 (12 MP);
  a sharp image is never enlarged, so it is at most its photograph's size;
* **JPEG**: quality 50-95; images that went through a messaging app were
  encoded twice (the phone at q85-95, the app at q50-85 after its resize);
* **sharp**: crops at 15-100% of the photograph at many output scales;
  smooth windows (the lowest-detail window that still holds a crisp edge: sky,
  skin, a microscopy field, the moon); documents on a page with wide margins;
  noisy low-light exposures. Every sharp image is checked to hold a crisp edge
  at its own size, so a bokeh crop is never labelled sharp;
* **blurry**: defocus (a disk with a bright rim, as real lenses have),
  straight motion with uneven speed, curved motion (a Bezier path), Gaussian;
  strengths set in pixels of the final image, from just noticeable (defocus
  radius 2, sigma 1.2, a 4 px path) to heavy (radius 12, sigma 7, 30 px);
* **moire**: a photo of a screen showing the scene: RGB or BGR stripes,
  PenTile (RGBG) or delta sub-pixel layouts, a screen pixel of 1.2-3.2
  camera pixels (viewing distance), rotated 0-45 degrees, slight keystone,
  lens blur (each sub-pixel band is the exact Gaussian-blurred stripe, from
  its Fourier series); drawn so that the beat the colour filter's sampling
  makes (red and blue are sampled every other pixel) is 4-80 pixels of the
  final image and keeps some contrast through lens and pixel, and so is
  visible at the size the image is seen at.

The same seed gives the same files, byte for byte; image ``i`` depends on
``(seed, i)`` only. ``labels.csv`` has ``path,label,photo,degradation``, as the
training set's does; ``photo`` is a name from ``photographs.CATALOGUE``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .photographs import Photograph, catalogue
from .training import write_labels

CLASSES = ("sharp", "blurry", "moire")
MIN_LONG_SIDE = 150
MAX_LONG_SIDE = 4032
# (probability, low, high) of the long side in px; drawn log-uniformly within a band
SIZE_BANDS = ((0.45, 150, 700), (0.25, 700, 1500), (0.30, 1500, 4032))
ASPECTS = (1.0, 4 / 3, 3 / 2, 16 / 9, 19.5 / 9)
GAMMA = 2.2
# a crisp edge: 0.3% of neighbouring pixels differ by this many grey levels (see _has_crisp_edge)
CRISP_EDGE_LEVELS = 28
# blur strengths in final-image pixels: (just noticeable, heavy)
DEFOCUS_RADIUS = (2.0, 12.0)
GAUSSIAN_SIGMA = (1.2, 7.0)
MOTION_LENGTH = (4.0, 30.0)
SCREEN_PITCH = (1.2, 3.2)           # camera pixels per screen pixel
LENS_SIGMA = (0.3, 0.55)            # the camera's optics as a Gaussian, camera pixels (MTF 0.3-0.6 at Nyquist)
MIN_BEAT_CONTRAST = 0.15            # the aliased fundamental keeps at least this share of its contrast
MOIRE_PERIOD = (4.0, 80.0)          # aliasing beat, in final-image pixels
SCREEN_LAYOUTS = ("rgb_stripe", "bgr_stripe", "pentile", "delta")
STRIP_ROWS = 256                    # screen rendering works in strips to bound memory


def write_validation_set(out: str, *, n: int = 600, seed: int = 0, split: str = "all",
                         shipped_only: bool = False) -> Path:
    """Write ``n`` labelled JPEGs into ``out`` (classes in turn); returns the labels.csv path.

    ``split`` chooses the scenes (photographs.catalogue): "validation" for
    held-out scenes only, "all" for every installed photograph.
    """
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    photos = catalogue(split, shipped_only=shipped_only)
    if not photos:
        raise ValueError(f"no photograph of split {split!r} is installed")
    order = [photos[j] for j in np.random.default_rng(seed).permutation(len(photos))]
    rows, cached = [], (None, None)
    for i in range(n):
        label = CLASSES[i % len(CLASSES)]
        photo = order[(i // len(CLASSES)) % len(order)]
        if cached[0] is not photo:
            cached = (photo, photo.image())
        rng = np.random.default_rng([seed, i])
        jpeg, how = make_image(cached[1], photo, label, rng)
        filename = f"{i:04d}_{photo.name}_{how.split('-')[0]}.jpg"
        (out_dir / filename).write_bytes(jpeg)
        rows.append((filename, label, photo.name, how))
    labels = out_dir / "labels.csv"
    write_labels(labels, rows)
    return labels


def make_image(photo: np.ndarray, about: Photograph, label: str, rng: np.random.Generator) -> tuple[bytes, str]:
    """One labelled image as JPEG bytes, and a description of how it was made."""
    long_side = _draw_long_side(rng)
    aspect = float(rng.choice(ASPECTS))
    if rng.random() < 0.5:
        aspect = 1 / aspect
    # messaging apps: the phone's photo is larger than what the app keeps
    via_app = long_side < 1500 and rng.random() < 0.7
    app_factor = float(rng.uniform(1.3, 4.0)) if via_app else 1.0
    if label == "sharp":
        camera, how, long_side = _sharp(photo, about, long_side, aspect, app_factor, rng)
    elif label == "blurry":
        camera, how = _blurry(photo, long_side, aspect, app_factor, rng)
    elif label == "moire":
        camera, how = _screen_photo(photo, long_side, aspect, app_factor, rng)
    else:
        raise ValueError(f"unknown label {label!r}")
    image, isp = _phone_processing(camera, label, how, rng)
    final_size = _fit(image.shape, long_side)
    if via_app:
        q1, q2 = int(rng.integers(85, 96)), int(rng.integers(50, 86))
        image = _decode(_encode(image, q1))
        image = _resize(image, final_size, rng)
        jpeg, enc = _encode(image, q2), f"app-q{q1}-q{q2}"
    else:
        if image.shape[:2] != final_size:
            image = _resize(image, final_size, rng)
        if rng.random() < 0.2:  # saved, then re-saved at the same size
            q1, q2 = int(rng.integers(70, 96)), int(rng.integers(50, 90))
            jpeg, enc = _encode(_decode(_encode(image, q1)), q2), f"twice-q{q1}-q{q2}"
        else:
            q = int(rng.integers(50, 96))
            jpeg, enc = _encode(image, q), f"q{q}"
    return jpeg, f"{how}-{isp}-{final_size[1]}x{final_size[0]}-{enc}"


# --- sizes, crops, colour -------------------------------------------------------------------

def _draw_long_side(rng) -> int:
    u, acc = rng.random(), 0.0
    for p, lo, hi in SIZE_BANDS:
        acc += p
        if u < acc:
            break
    return int(round(np.exp(rng.uniform(np.log(lo), np.log(hi)))))


def _fit(shape, long_side: int) -> tuple[int, int]:
    """(height, width) with the given long side and the shape's aspect ratio."""
    h, w = shape[:2]
    s = long_side / max(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def _crop(photo: np.ndarray, fraction: float, aspect: float, rng) -> np.ndarray:
    """A window covering ``fraction`` of the largest ``aspect`` (w / h) window, never under MIN_LONG_SIDE."""
    h, w = photo.shape[:2]
    full = min(h, w / aspect)
    fraction = min(1.0, max(fraction, MIN_LONG_SIDE / (full * max(aspect, 1.0))))
    ch = full * fraction
    cw = ch * aspect
    ch, cw = max(8, int(ch)), max(8, int(cw))
    y = int(rng.integers(0, h - ch + 1))
    x = int(rng.integers(0, w - cw + 1))
    return photo[y:y + ch, x:x + cw]


def _resize(image: np.ndarray, size_hw: tuple[int, int], rng=None) -> np.ndarray:
    import cv2

    h, w = size_hw
    if h * w < image.shape[0] * image.shape[1]:
        # apps and phones shrink with area averaging or plain bilinear
        method = cv2.INTER_AREA if rng is None or rng.random() < 0.6 else cv2.INTER_LINEAR
    else:
        method = cv2.INTER_CUBIC
    return cv2.resize(image, (w, h), interpolation=method)


def _to_linear(image_u8: np.ndarray) -> np.ndarray:
    return (image_u8.astype(np.float32) / 255.0) ** GAMMA


def _to_u8(linear: np.ndarray) -> np.ndarray:
    return (np.clip(linear, 0.0, 1.0) ** (1 / GAMMA) * 255.0 + 0.5).astype(np.uint8)


def _encode(image: np.ndarray, quality: int) -> bytes:
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return encoded.tobytes()


def _decode(data: bytes) -> np.ndarray:
    import cv2

    return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)


def _has_crisp_edge(image: np.ndarray) -> bool:
    """Does some place in the image step sharply from one pixel to the next (as no blurred edge does)?"""
    import cv2

    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.int16)
    steps = np.concatenate([np.abs(np.diff(grey, axis=0)).ravel(), np.abs(np.diff(grey, axis=1)).ravel()])
    return float(np.percentile(steps, 99.7)) >= CRISP_EDGE_LEVELS


# --- sharp ----------------------------------------------------------------------------------

def _sharp(photo, about: Photograph, long_side, aspect, app_factor, rng):
    """A sharp image: never enlarged, so at most the photograph's own size; checked for a crisp edge."""
    kind = "document" if about.kind == "document" and rng.random() < 0.6 else \
        str(rng.choice(["crop", "crop", "smooth", "lowlight"]))
    for _ in range(12):
        if kind == "document":
            scene = _document_page(photo, aspect, rng)
        elif kind == "smooth":
            scene = _smooth_window(photo, aspect, rng)
        else:
            scene = _crop(photo, float(rng.uniform(0.15, 1.0)), aspect, rng)
        target = min(long_side, max(scene.shape[:2]))
        camera_long = min(max(scene.shape[:2]), int(round(target * app_factor)))
        camera = _resize(scene, _fit(scene.shape, camera_long), rng) if camera_long < max(scene.shape[:2]) else scene
        if _has_crisp_edge(_resize(camera, _fit(camera.shape, target))):
            break
    else:
        kind, camera, target = "crop", photo, min(long_side, max(photo.shape[:2]))
    linear = _to_linear(camera)
    if kind == "lowlight":
        exposure = float(rng.uniform(0.1, 0.35))
        linear = _sensor_noise(linear * exposure, rng, strength=float(rng.uniform(1.0, 2.0))) / exposure
        how = f"lowlight{exposure:.2f}"
    else:
        linear = _sensor_noise(linear, rng, strength=float(rng.uniform(0.2, 1.0)))
        how = kind
    return linear, f"sharp_{how}", int(target)


def _smooth_window(photo, aspect, rng):
    """The lowest-detail of a dozen random windows that still holds a crisp edge (sky, skin, a slide)."""
    import cv2

    best, best_detail = None, np.inf
    for _ in range(12):
        window = _crop(photo, float(rng.uniform(0.2, 0.6)), aspect, rng)
        grey = cv2.cvtColor(window, cv2.COLOR_BGR2GRAY)
        detail = float(np.mean(np.abs(cv2.Laplacian(grey, cv2.CV_32F))))
        if detail < best_detail and _has_crisp_edge(window):
            best, best_detail = window, detail
    return best if best is not None else _crop(photo, 0.5, aspect, rng)


def _document_page(photo, aspect, rng):
    """The document photo laid on paper with wide margins, lit unevenly: mostly smooth, crisp text."""
    import cv2

    content = _crop(photo, float(rng.uniform(0.5, 1.0)), aspect, rng)
    ch, cw = content.shape[:2]
    margin = float(rng.uniform(0.15, 0.45))
    ph, pw = int(ch * (1 + 2 * margin)), int(cw * (1 + 2 * margin))
    paper_level = np.percentile(content, 90, axis=(0, 1)).astype(np.float32)
    yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
    light = 1.0 - float(rng.uniform(0.0, 0.25)) * ((xx / pw - rng.random()) ** 2 + (yy / ph - rng.random()) ** 2)
    page = paper_level[None, None, :] * light[:, :, None]
    grain = cv2.GaussianBlur(rng.normal(0, 1.5, (ph, pw)).astype(np.float32), (0, 0), 1.0)
    page += grain[:, :, None]
    y0, x0 = (ph - ch) // 2, (pw - cw) // 2
    page[y0:y0 + ch, x0:x0 + cw] = content.astype(np.float32) * light[y0:y0 + ch, x0:x0 + cw, None]
    return np.clip(page, 0, 255).astype(np.uint8)


# --- blurry ---------------------------------------------------------------------------------

def _blurry(photo, long_side, aspect, app_factor, rng):
    """A crop at the camera's size (enlarged if need be), blurred in linear light by a lens or motion PSF."""
    import cv2

    scene = _crop(photo, float(rng.uniform(0.2, 1.0)), aspect, rng)
    camera_long = min(MAX_LONG_SIDE, int(round(long_side * app_factor)))
    camera = _resize(scene, _fit(scene.shape, camera_long), rng)
    scale = max(camera.shape[:2]) / long_side          # camera pixels per final pixel
    kind = str(rng.choice(["defocus", "motion", "curved_motion", "gaussian"]))
    linear = _to_linear(camera)
    if kind == "gaussian":
        sigma = _log_uniform(rng, *GAUSSIAN_SIGMA)
        linear = cv2.GaussianBlur(linear, (0, 0), sigma * scale)
        how = f"gaussian{sigma:.1f}"
    else:
        if kind == "defocus":
            strength = _log_uniform(rng, *DEFOCUS_RADIUS)
            kernel = _defocus_psf(strength * scale, rim=float(rng.uniform(0.0, 0.8)))
        else:
            strength = _log_uniform(rng, *MOTION_LENGTH)
            kernel = _motion_psf(strength * scale, curved=kind == "curved_motion", rng=rng)
        linear = cv2.filter2D(linear, -1, kernel, borderType=cv2.BORDER_REFLECT)
        how = f"{kind}{strength:.1f}"
    linear = _sensor_noise(linear, rng, strength=float(rng.uniform(0.2, 1.2)))
    return linear, f"blurry_{how}"


def _log_uniform(rng, lo: float, hi: float) -> float:
    return float(np.exp(rng.uniform(np.log(lo), np.log(hi))))


def _defocus_psf(radius: float, rim: float) -> np.ndarray:
    """A disk of ``radius`` px, brighter towards its rim (spherical aberration), edges anti-aliased."""
    r = int(np.ceil(radius)) + 1
    ss = 4  # supersampling of the kernel grid
    coords = (np.arange((2 * r + 1) * ss) + 0.5) / ss - (r + 0.5)
    yy, xx = np.meshgrid(coords, coords, indexing="ij")
    rho = np.hypot(xx, yy) / max(radius, 1e-6)
    fine = np.where(rho <= 1.0, 1.0 + rim * rho ** 2, 0.0)
    kernel = fine.reshape(2 * r + 1, ss, 2 * r + 1, ss).mean(axis=(1, 3)).astype(np.float32)
    return kernel / kernel.sum()


def _motion_psf(length: float, curved: bool, rng) -> np.ndarray:
    """The path a point takes during the exposure, with uneven speed: a line or a Bezier curve."""
    angle = rng.uniform(0, np.pi)
    d = np.array([np.cos(angle), np.sin(angle)]) * length
    p0, p2 = -d / 2, d / 2
    bend = rng.uniform(0.25, 0.6) * length if curved else 0.0
    p1 = np.array([-d[1], d[0]]) / max(length, 1e-6) * bend * rng.choice([-1, 1])
    t = np.linspace(0, 1, max(64, int(length * 8)))
    # the camera slows at one end of its swing: dwell time grows there
    speed = 1.0 + rng.uniform(0, 2.0) * t ** 2
    dwell = 1.0 / speed
    pts = ((1 - t) ** 2)[:, None] * p0 + (2 * (1 - t) * t)[:, None] * p1 + (t ** 2)[:, None] * p2
    r = int(np.ceil(np.abs(pts).max())) + 2
    kernel = np.zeros((2 * r + 1, 2 * r + 1), np.float64)
    x, y = pts[:, 0] + r, pts[:, 1] + r
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dx, dy, wgt in ((0, 0, (1 - fx) * (1 - fy)), (1, 0, fx * (1 - fy)), (0, 1, (1 - fx) * fy), (1, 1, fx * fy)):
        np.add.at(kernel, (y0 + dy, x0 + dx), wgt * dwell)
    kernel = kernel.astype(np.float32)
    return kernel / kernel.sum()


# --- moire: a photograph of a screen --------------------------------------------------------

def _screen_photo(photo, long_side, aspect, app_factor, rng):
    """The scene shown on a screen and photographed: the sub-pixel lattice aliases on the sensor."""
    camera_long = min(MAX_LONG_SIDE, int(round(long_side * app_factor)))
    ch, cw = _fit((1, aspect), camera_long)
    scale = camera_long / long_side
    layout = str(rng.choice(SCREEN_LAYOUTS))
    for _ in range(500):  # draw a distance, angle and lens whose beat is visible at the final size
        pitch = float(rng.uniform(*SCREEN_PITCH))
        angle = float(rng.uniform(0, 45)) if rng.random() < 0.8 else float(rng.uniform(0, 3))
        lens_sigma = float(rng.uniform(*LENS_SIGMA))
        period = _beat_period(pitch, angle, layout, lens_sigma) / scale
        if MOIRE_PERIOD[0] <= period <= MOIRE_PERIOD[1]:
            break
    keystone = rng.uniform(-0.08, 0.08, size=2)
    theta = np.deg2rad(angle)
    # screen coordinates (u, v), in screen pixels, of a camera pixel (x, y)
    cx, cy = cw / 2, ch / 2
    rot = np.array([[np.cos(theta), np.sin(theta)], [-np.sin(theta), np.cos(theta)]]) / pitch

    def to_screen(x, y):
        xn, yn = (x - cx) / camera_long, (y - cy) / camera_long
        w = 1.0 + keystone[0] * xn + keystone[1] * yn
        return (rot[0, 0] * (x - cx) + rot[0, 1] * (y - cy)) / w, (rot[1, 0] * (x - cx) + rot[1, 1] * (y - cy)) / w

    corners = [to_screen(x, y) for x in (0, cw) for y in (0, ch)]
    u_min, u_max = min(c[0] for c in corners) - 2, max(c[0] for c in corners) + 2
    v_min, v_max = min(c[1] for c in corners) - 2, max(c[1] for c in corners) + 2
    sw, sh = int(np.ceil(u_max - u_min)) + 1, int(np.ceil(v_max - v_min)) + 1
    # the screen shows the photograph at most at its own resolution where the photograph allows
    fit = min(photo.shape[0], photo.shape[1] / (sw / sh))
    least = min(1.0, sh / fit)
    content = _crop(photo, float(rng.uniform(max(0.3, least), 1.0)) if least < 1 else 1.0, sw / sh, rng)
    content = _to_linear(_resize(content, (sh, sw)))
    # optics and the pixel's own area (a 1 px box, variance 1/12), in screen pixels
    blur = float(np.sqrt(lens_sigma ** 2 + 1 / 12)) / pitch
    gaps = (float(rng.uniform(0.02, 0.1)), float(rng.uniform(0.05, 0.25)))
    out = np.empty((ch, cw, 3), np.float32)
    xs = np.arange(cw, dtype=np.float32) + 0.5
    for y0 in range(0, ch, STRIP_ROWS):
        ys = np.arange(y0, min(ch, y0 + STRIP_ROWS), dtype=np.float32) + 0.5
        x, y = np.meshgrid(xs, ys)
        u, v = to_screen(x, y)
        out[y0:y0 + len(ys)] = _emission(u - u_min, v - v_min, content, layout, blur, gaps)
    # auto white balance (the grey world of the shown content), then auto-exposure: the brightest
    # sub-pixels just below clipping
    out *= (content.reshape(-1, 3).mean(axis=0) / np.maximum(out[::7, ::7].reshape(-1, 3).mean(axis=0), 1e-6))
    out *= float(rng.uniform(0.75, 0.95)) / max(float(np.percentile(out[::7, ::7], 99.5)), 1e-6)
    out = _sensor_noise(out, rng, strength=float(rng.uniform(0.3, 1.2)))
    return out, f"moire_{layout}-p{pitch:.2f}-a{angle:.0f}-beat{period:.0f}"


def _beat_period(pitch: float, angle_deg: float, layout: str, lens_sigma: float) -> float:
    """The longest period (camera px) of the lattice's fundamentals that alias with some contrast left.

    Red and blue are sampled every other pixel by the Bayer filter, so a
    frequency aliases by multiples of 1/2 cycle per pixel.
    """
    theta = np.deg2rad(angle_deg)
    repeat = 2.0 if layout in ("pentile", "delta") else 1.0   # colours repeat every two pixels
    longest = 0.0
    for k in ((1.0 / repeat, 0.0), (0.0, 1.0), (1.0, 0.0)):
        fx = (k[0] * np.cos(theta) - k[1] * np.sin(theta)) / pitch
        fy = (k[0] * np.sin(theta) + k[1] * np.cos(theta)) / pitch
        ax, ay = fx - round(2 * fx) / 2, fy - round(2 * fy) / 2
        norm = float(np.hypot(ax, ay))
        contrast = np.exp(-2 * np.pi ** 2 * lens_sigma ** 2 * (fx ** 2 + fy ** 2)) * abs(np.sinc(fx) * np.sinc(fy))
        if norm > 1e-6 and max(abs(fx), abs(fy)) > 0.25 and contrast >= MIN_BEAT_CONTRAST:
            longest = max(longest, 1.0 / norm)
    return longest


def _band(coord: np.ndarray, lo: float, hi: float, sigma: float, harmonics: int = 4) -> np.ndarray:
    """A stripe lit over [lo, hi] of each unit cell, blurred by a Gaussian of ``sigma`` cells.

    Its Fourier series, each harmonic damped as the Gaussian damps it, so a
    lattice finer than the optics resolve fades to its mean, as it does in a camera.
    """
    duty, centre = hi - lo, (hi + lo) / 2
    out = np.full(coord.shape, duty, np.float32)
    phase = (2 * np.pi) * (coord - centre).astype(np.float32)
    for n in range(1, harmonics + 1):
        amplitude = 2 * np.sin(np.pi * n * duty) / (np.pi * n) * np.exp(-2 * (np.pi * n * sigma) ** 2)
        if abs(amplitude) < 1e-3:
            break
        out += np.float32(amplitude) * np.cos(n * phase)
    return out


def _emission(u, v, content, layout: str, blur: float, gaps) -> np.ndarray:
    """Light leaving the screen at (u, v) screen px: each colour lit only where its sub-pixel is."""
    col_gap, row_gap = gaps
    iu, iv = np.floor(u).astype(np.int32), np.floor(v).astype(np.int32)
    if layout == "delta":  # every other row shifted by half a pixel: sub-pixels on a triangle lattice
        u = u + 0.5 * (iv & 1)
        iu = np.floor(u).astype(np.int32)
    sh, sw = content.shape[:2]
    pixel = content[np.clip(iv, 0, sh - 1), np.clip(iu, 0, sw - 1)]   # BGR, linear
    rows = _band(v, row_gap / 2, 1 - row_gap / 2, blur)
    out = np.empty(u.shape + (3,), np.float32)
    if layout in ("rgb_stripe", "bgr_stripe", "delta"):
        order = (2, 1, 0) if layout != "bgr_stripe" else (0, 1, 2)   # BGR channel of the 1st, 2nd, 3rd stripe
        for slot, channel in enumerate(order):
            lit = _band(u, slot / 3 + col_gap / 2, (slot + 1) / 3 - col_gap / 2, blur) * rows
            out[..., channel] = 3.0 * lit * pixel[..., channel]
    elif layout == "pentile":
        # each pixel: a tall red or blue sub-pixel (alternating in a checkerboard) and a small green one
        big = _band(u, 0.05, 0.5, blur) * _band(v, 0.05, 0.95, blur)
        green = _band(u, 0.58, 0.92, blur) * _band(v, 0.3, 0.7, blur)
        red_here = ((iu + iv) & 1) == 0
        out[..., 2] = np.where(red_here, 4.0 * big * pixel[..., 2], 0.0)
        out[..., 0] = np.where(red_here, 0.0, 4.0 * big * pixel[..., 0])
        out[..., 1] = 7.0 * green * pixel[..., 1]
    else:
        raise ValueError(f"unknown screen layout {layout!r}")
    return out + 0.01 * pixel  # light leaking through the black matrix


# --- the phone ------------------------------------------------------------------------------

def _sensor_noise(linear: np.ndarray, rng, strength: float) -> np.ndarray:
    """Shot noise (grows with the signal) and read noise; ``strength`` 1 is a phone in daylight."""
    shot = np.sqrt(np.maximum(linear, 0.0) * (0.004 * strength) ** 2 * 20)
    read = 0.002 * strength
    sigma = np.sqrt(shot ** 2 + read ** 2).astype(np.float32)
    return linear + sigma * rng.standard_normal(linear.shape, dtype=np.float32)


def _phone_processing(linear: np.ndarray, label: str, how: str, rng) -> tuple[np.ndarray, str]:
    """Colour filter and demosaic, gamma, noise reduction, sharpening: what a phone does to every photo."""
    import cv2

    steps = []
    image = cv2.cvtColor(_bayer_mosaic(_to_u8(linear)), cv2.COLOR_BayerBG2BGR)
    if rng.random() < 0.5 or "lowlight" in how:
        sigma = float(rng.uniform(8, 25)) if "lowlight" in how else float(rng.uniform(4, 14))
        image = cv2.bilateralFilter(image, 5, sigma, 2.0)
        steps.append(f"nr{sigma:.0f}")
    if rng.random() < 0.6:
        # blurry images get the phone's usual sharpening too, but not so much that they look sharp
        amount = float(rng.uniform(0.2, 1.2 if label != "blurry" else 0.6))
        radius = float(rng.uniform(0.7, 1.8))
        soft = cv2.GaussianBlur(image, (0, 0), radius)
        image = cv2.addWeighted(image, 1 + amount, soft, -amount, 0)
        steps.append(f"usm{amount:.1f}")
    return image, "+".join(steps) or "plain"


def _bayer_mosaic(image_bgr: np.ndarray) -> np.ndarray:
    """One colour per pixel, as a sensor's colour filter array sees it (OpenCV's BG pattern)."""
    h, w = image_bgr.shape[:2]
    mosaic = np.empty((h, w), np.uint8)
    # red at even rows and columns, blue at odd ones: the layout OpenCV's COLOR_BayerBG2BGR reads
    # (a flat colour comes back unchanged through it)
    mosaic[0::2, 0::2] = image_bgr[0::2, 0::2, 2]
    mosaic[0::2, 1::2] = image_bgr[0::2, 1::2, 1]
    mosaic[1::2, 0::2] = image_bgr[1::2, 0::2, 1]
    mosaic[1::2, 1::2] = image_bgr[1::2, 1::2, 0]
    return mosaic
