"""From file bytes to the one decoded image every metric family measures.

Resolution policy (version 3 of every family)
---------------------------------------------
A metric must mean the same for a photo at 800x600 and at 4032x3024, so most
families measure an *analysis image*, not the stored pixels; one family reads
the stored pixels themselves, in a few crops:

* Every image is decoded once, at its full stored size, straight to grey
  (``AnalysisImage.detail``, the *decoded plane*). A photo of a screen carries
  the screen's pixel grid at the scale of the camera's own pixels; any
  reduction (libjpeg's DCT scaling, area averaging) removes it, and on real
  photographs of screens the crops' measure loses 4 to 10 points of accuracy
  at half size (docs/METRICS.md). ``screen_texture`` reads this plane.
* ``ANALYSIS_LONG_SIDE = 512``: the analysis image is the decoded plane
  reduced in two steps, so that a photo and its half-size copy go through the
  same filters: first averaged over k x k blocks, k the largest of 2, 4 or 8
  that keeps the long side at least 512 px (the last rows and columns past a
  multiple of k are dropped; what libjpeg's DCT scaling did in version 2), then
  area-averaged (``cv2.INTER_AREA``) so that its longer side is exactly 512 px
  (the shorter side from the header's size, rounded, at least 1).
  Blur is then judged as a viewer sees the photo in a feed or a flash card,
  whatever the camera's pixel count. Smaller images are never resampled: they
  are measured at their own size (``analysis_width``/``analysis_height`` in
  ``raw.image_properties`` say so).
* The cost: a full decode is the benchmark's decode floor itself. Version 2
  decoded large JPEGs reduced by libjpeg, which saved about a fifth of the
  decode on a mixed collection (the entropy decoding, most of the work, is the
  same at every scale) and lost the pixel scale.

Grey: for a JPEG, the luma plane the file stores (libjpeg's grey output: the
Y of its YCbCr, which encoders compute as ITU-R BT.601 luma, 0.299 R + 0.587 G
+ 0.114 B; a CMYK JPEG is converted by OpenCV). For other formats the decoder
yields 8-bit BGR (16-bit samples are scaled to 8 bits, alpha is dropped,
palettes are expanded, the first frame of an animation is used) and grey is
``cv2.cvtColor(bgr, COLOR_BGR2GRAY)``, the same BT.601 luma, exactly as the
seed's scripts compute it. EXIF orientation is applied in both cases. No
family measures colour (docs/METRICS.md, "Why grey only").

Decompression bombs: the header is read first (Pillow reads headers without
decoding pixels) and an image above ``MAX_PIXELS`` is refused before any pixel
buffer is allocated. Truncation is refused before decoding too: a JPEG whose
last scan has no end marker, a PNG with a chunk longer than the rest of the
file (OpenCV would allocate the claimed length first).

Changing any constant here changes every family's definition: bump them all.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np

ANALYSIS_LONG_SIDE = 512
MAX_PIXELS = 100_000_000  # 100 megapixels: above any phone camera, far below a bomb
JPEG_FORMATS = frozenset({"jpeg", "mpo"})

# EXIF orientations 5 to 8 rotate by 90 degrees: displayed width and height swap.
_EXIF_ORIENTATION_TAG = 0x0112
_SWAPPING_ORIENTATIONS = frozenset({5, 6, 7, 8})


class ImageError(Exception):
    """The bytes cannot be measured; ``kind`` is a short, stable error class."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class ImageHeader:
    """What the file says about itself, read without decoding pixels."""

    format: str        # lower-case Pillow format name: jpeg, png, webp, bmp, tiff, ...
    width: int         # as displayed (after EXIF orientation)
    height: int
    colour_mode: str   # Pillow mode: L, LA, RGB, RGBA, P, CMYK, I;16, 1, ...
    channels: int
    frames: int


@dataclass(frozen=True)
class AnalysisImage:
    """One image at the analysis resolution: what every metric family measures.

    ``decoded_grey`` is the grey plane at the full stored size, before area
    averaging (None when it is ``grey`` itself): the pixel-scale detail that a
    screen's grid leaves, which averaging to 512 px removes. ``is_jpeg`` says
    whether it carries a JPEG's 8x8 block grid.
    """

    header: ImageHeader
    grey: np.ndarray   # uint8, H x W, C-contiguous
    decoded_grey: np.ndarray | None = None
    is_jpeg: bool = False

    @property
    def detail(self) -> np.ndarray:
        """The grey plane at its full stored size (see the module's policy): uint8, H x W."""
        return self.grey if self.decoded_grey is None else self.decoded_grey

    @property
    def jpeg_block_period(self) -> float:
        """The period, in ``detail`` pixels, of a JPEG's 8x8 block grid; 0 when there is none."""
        return 8.0 if self.is_jpeg else 0.0

    @cached_property
    def grey_histogram(self) -> np.ndarray:
        """Pixel counts of the 256 grey levels (int64), shared by the families that need it."""
        import cv2

        # counts below 2**24 are exact in calcHist's float32; 4x faster than np.bincount
        return cv2.calcHist([self.grey], [0], None, [256], [0, 256]).ravel().astype(np.int64)

    @cached_property
    def sobel(self) -> tuple[np.ndarray, np.ndarray]:
        """(gx, gy): OpenCV's 3x3 Sobel derivatives of grey in int16 (exact: |value| <= 1020)."""
        import cv2

        return cv2.Sobel(self.grey, cv2.CV_16S, 1, 0), cv2.Sobel(self.grey, cv2.CV_16S, 0, 1)

    @cached_property
    def coarse(self) -> np.ndarray:
        """``cv2.pyrDown`` of grey in float32: the analysis image one octave down."""
        import cv2

        return cv2.pyrDown(self.grey.astype(np.float32))

    @property
    def width(self) -> int:
        return int(self.grey.shape[1])

    @property
    def height(self) -> int:
        return int(self.grey.shape[0])


def read_header(data: bytes) -> ImageHeader:
    """Parse the image header; raises ImageError for non-images and bombs."""
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = None  # our own limit below applies, with our own message
    if not data:
        raise ImageError("empty_file", "the file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # Pillow warns of broken tags; the outcome is recorded anyway
            with Image.open(io.BytesIO(data)) as img:
                fmt = (img.format or "unknown").lower()
                width, height = _stored_size(img)
                mode = img.mode
                channels = len(img.getbands())
                frames = int(getattr(img, "n_frames", 1) or 1)
                orientation = _exif_orientation(img)
    except UnidentifiedImageError:
        raise ImageError("not_an_image", "the bytes are not an image format we can read") from None
    except MemoryError:
        raise
    except Exception as exc:  # Pillow's parsers raise many types on hostile headers (TypeError, struct.error, ...)
        raise ImageError("bad_header", f"the image header cannot be read: {type(exc).__name__}: {exc}") from None
    if width <= 0 or height <= 0:
        raise ImageError("bad_header", f"the header claims an empty image ({width}x{height})")
    width, height, channels, frames = int(width), int(height), int(channels), int(frames)
    if frames > len(data):  # every frame takes bytes of its own: a larger count is a lie
        raise ImageError("bad_header", f"the header claims {frames:,} frames, more than a "
                                       f"{len(data):,}-byte file can hold")
    if width * height > MAX_PIXELS:
        raise ImageError(
            "too_many_pixels",
            f"the header claims {width}x{height} = {width * height:,} pixels, above the limit of "
            f"{MAX_PIXELS:,}; refused without decoding")
    if orientation in _SWAPPING_ORIENTATIONS:
        width, height = height, width
    return ImageHeader(fmt, width, height, mode, channels, frames)


def _stored_size(img) -> tuple[int, int]:
    """Width and height of the pixel array as stored, before any orientation.

    Pillow reports that for every format but TIFF, whose plugin already swaps
    ``size`` for orientations 5-8; the stored size is in the TIFF's own tags.
    """
    if img.format == "TIFF":
        tags = getattr(img, "tag_v2", {})
        if 256 in tags and 257 in tags:  # ImageWidth, ImageLength
            return int(tags[256]), int(tags[257])
    return img.size


def _exif_orientation(img) -> int:
    try:
        return int(img.getexif().get(_EXIF_ORIENTATION_TAG, 1))
    except Exception:  # a broken EXIF block must not fail the image
        return 1


def jpeg_reduction(long_side: int, target: int = ANALYSIS_LONG_SIDE) -> int:
    """The largest libjpeg scale denominator (1, 2, 4, 8) that keeps long_side / d >= target
    (the report's previews decode reduced; no metric does)."""
    for denominator in (8, 4, 2):
        if long_side // denominator >= target:
            return denominator
    return 1


def analysis_size(width: int, height: int, target: int = ANALYSIS_LONG_SIDE) -> tuple[int, int]:
    """(width, height) of the analysis image for a displayed size; never larger than the input."""
    long_side = max(width, height)
    if long_side <= target:
        return width, height
    scale = target / long_side
    if width >= height:
        return target, max(1, round(height * scale))
    return max(1, round(width * scale)), target


def _jpeg_is_truncated(data: bytes) -> bool:
    # libjpeg pads a truncated scan with grey and only warns; a complete file has
    # an end-of-image marker after its last start-of-scan marker (0xFF is stuffed
    # inside entropy-coded data, so these byte pairs are real markers).
    return data.rfind(b"\xff\xd9") < data.rfind(b"\xff\xda")


def _png_chunk_overruns(data: bytes) -> bool:
    # A chunk whose length field claims more bytes than the file holds: OpenCV's
    # PNG reader allocates the claimed length first (4 GB for a 20 kB file with
    # one byte changed), so such files are refused before they reach it.
    pos, size = 8, len(data)
    while pos + 8 <= size:
        length = int.from_bytes(data[pos:pos + 4], "big")
        if pos + 12 + length > size:
            return True
        if data[pos + 4:pos + 8] == b"IEND":
            return False
        pos += 12 + length
    return False


def _guarded(data: bytes) -> ImageHeader:
    """The header, once the bytes pass the bomb guard and the truncation checks."""
    header = read_header(data)
    if header.format in JPEG_FORMATS and _jpeg_is_truncated(data):
        raise ImageError("truncated", "the JPEG ends before its last scan is complete")
    if header.format == "png" and _png_chunk_overruns(data):
        raise ImageError("truncated", "a PNG chunk claims more bytes than the file holds")
    return header


def _decoded(buffer: np.ndarray, flags: int, header: ImageHeader) -> np.ndarray:
    import cv2

    pixels = cv2.imdecode(buffer, flags)
    if pixels is None or pixels.size == 0:
        raise ImageError("decode_failed", f"the {header.format} decoder could not read the pixels")
    return pixels


def _resized(pixels: np.ndarray, header: ImageHeader, long_side: int) -> np.ndarray:
    """Area-averaged to ``long_side``, the size following the header's (displayed) size, so that a
    reduced decode (the previews'), whose sides libjpeg rounds up, gives the same size as a full one."""
    import cv2

    target = analysis_size(header.width, header.height, long_side)
    if target[0] > pixels.shape[1] or target[1] > pixels.shape[0]:  # a decoder that disagrees with its header
        target = analysis_size(pixels.shape[1], pixels.shape[0], long_side)
    if target != (pixels.shape[1], pixels.shape[0]):
        pixels = cv2.resize(pixels, target, interpolation=cv2.INTER_AREA)
    return pixels


def _box_reduced(plane: np.ndarray) -> np.ndarray:
    """The plane averaged over k x k blocks, k the largest of 2, 4, 8 that keeps its long side at
    least ``ANALYSIS_LONG_SIDE`` (the rows and columns past a multiple of k dropped); itself when k = 1."""
    import cv2

    h, w = plane.shape[:2]
    k = jpeg_reduction(max(h, w))
    if k == 1:
        return plane
    return cv2.resize(plane[:h - h % k, :w - w % k], (w // k, h // k), interpolation=cv2.INTER_AREA)


def decode(data: bytes) -> AnalysisImage:
    """Decode the bytes once, to grey at the analysis resolution (see the module's policy)."""
    import cv2

    header = _guarded(data)
    buffer = np.frombuffer(data, dtype=np.uint8)
    is_jpeg = header.format in JPEG_FORMATS
    try:
        pixels = _decoded(buffer, cv2.IMREAD_GRAYSCALE if is_jpeg else cv2.IMREAD_COLOR, header)
        decoded = pixels if pixels.ndim == 2 else cv2.cvtColor(pixels, cv2.COLOR_BGR2GRAY)
        del pixels
        decoded = np.ascontiguousarray(decoded)
        grey = np.ascontiguousarray(_resized(_box_reduced(decoded), header, ANALYSIS_LONG_SIDE))
    except cv2.error as exc:
        raise ImageError("decode_failed", f"the decoder failed: {str(exc).strip().splitlines()[-1]}") from None
    return AnalysisImage(header=header, grey=grey, decoded_grey=None if grey is decoded else decoded,
                         is_jpeg=is_jpeg)


def decode_preview(data: bytes, long_side: int) -> np.ndarray:
    """The image in colour (8-bit BGR) for people to look at, at most ``long_side`` px on its longer
    side: the same guards, the same EXIF orientation and the same area averaging as ``decode``,
    with libjpeg's reduced colour decode. No metric reads it."""
    import cv2

    header = _guarded(data)
    flags = cv2.IMREAD_COLOR
    if header.format in JPEG_FORMATS:
        flags = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
                 8: cv2.IMREAD_REDUCED_COLOR_8}[jpeg_reduction(max(header.width, header.height), long_side)]
    try:
        pixels = _decoded(np.frombuffer(data, dtype=np.uint8), flags, header)
        if pixels.ndim == 2:
            pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
        return np.ascontiguousarray(_resized(pixels, header, long_side))
    except cv2.error as exc:
        raise ImageError("decode_failed", f"the decoder failed: {str(exc).strip().splitlines()[-1]}") from None
