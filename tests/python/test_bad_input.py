"""Bytes that are not a measurable image become a clear error kind, never a crash."""

from __future__ import annotations

import struct
import zlib

import cv2
import numpy as np
import pytest

from image_quality.decoding import MAX_PIXELS, ImageError, analysis_size, decode, jpeg_reduction


def png_header_claiming(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming a huge image, with one tiny IDAT."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b"")


@pytest.mark.parametrize("data, kind", [
    (b"", "empty_file"),
    (b"hello, I am text renamed to .jpg\n", "not_an_image"),
    (b"<!doctype html><html><body>404</body></html>", "not_an_image"),
])
def test_not_images(data, kind):
    with pytest.raises(ImageError) as err:
        decode(data)
    assert err.value.kind == kind


def test_decompression_bomb_refused_from_header_alone(tracemalloc_limit=None):
    import tracemalloc

    data = png_header_claiming(50_000, 50_000)
    tracemalloc.start()
    with pytest.raises(ImageError) as err:
        decode(data)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert err.value.kind == "too_many_pixels"
    assert "50000x50000" in str(err.value)
    assert peak < 10_000_000  # far below the 7.5 GB the pixels would take
    assert 50_000 * 50_000 > MAX_PIXELS


def test_truncated_jpeg(photos):
    ok, encoded = cv2.imencode(".jpg", photos["china"])
    data = encoded.tobytes()
    with pytest.raises(ImageError) as err:
        decode(data[: len(data) * 2 // 3])
    assert err.value.kind == "truncated"
    decode(data)  # the whole file is fine


def test_truncated_png(photos):
    ok, encoded = cv2.imencode(".png", photos["china"])
    data = encoded.tobytes()
    with pytest.raises(ImageError) as err:
        decode(data[: len(data) // 2])
    assert err.value.kind == "truncated"  # its last chunk claims more bytes than the file holds


def test_tiny_image_is_measured(photos):
    ok, encoded = cv2.imencode(".png", np.full((1, 1, 3), 200, np.uint8))
    image = decode(encoded.tobytes())
    assert image.grey.shape == (1, 1)


def test_analysis_size_never_upscales_and_keeps_aspect():
    assert analysis_size(500, 375) == (500, 375)
    assert analysis_size(512, 100) == (512, 100)
    assert analysis_size(4032, 3024) == (512, 384)
    assert analysis_size(3024, 4032) == (384, 512)
    assert analysis_size(100_000, 1) == (512, 1)


def test_jpeg_reduction_keeps_at_least_the_analysis_size():
    assert jpeg_reduction(1000) == 1
    assert jpeg_reduction(1023) == 1
    assert jpeg_reduction(1024) == 2
    assert jpeg_reduction(2047) == 2
    assert jpeg_reduction(2048) == 4
    assert jpeg_reduction(4095) == 4
    assert jpeg_reduction(4096) == 8
    assert jpeg_reduction(12000) == 8


def test_large_jpeg_decodes_reduced_to_the_analysis_size(photos):
    big = cv2.resize(photos["china"], (4032, 2690), interpolation=cv2.INTER_CUBIC)
    ok, encoded = cv2.imencode(".jpg", big)
    image = decode(encoded.tobytes())
    assert (image.width, image.height) == (512, 342)
    assert (image.header.width, image.header.height) == (4032, 2690)


def test_a_png_whose_pixel_data_is_corrupt_fails_to_decode(photos):
    """A valid header over garbage pixel data: read as an image, refused by the decoder, never a crash."""
    ok, encoded = cv2.imencode(".png", photos["china"][:200, :300])
    data = bytearray(encoded.tobytes())
    idat = data.index(b"IDAT") + 4
    data[idat:idat + 400] = np.random.default_rng(0).integers(0, 256, 400, dtype=np.uint8).tobytes()
    with pytest.raises(ImageError) as err:
        decode(bytes(data))
    assert err.value.kind == "decode_failed"


def test_a_failing_family_loses_only_its_own_row(photos):
    """One family raising on an image: a metric_failed error for it, every other family's row kept."""
    from image_quality.measuring import FileResult, measure_bytes
    from image_quality.metrics import all_families

    class Exploding:  # not a MetricFamily subclass: the registry must never see it
        name, version = "exploding_test_family", 3

        def calculate(self, image):
            raise ZeroDivisionError("a family bug")

    ok, encoded = cv2.imencode(".jpg", photos["flower"])
    families = list(all_families())
    result = FileResult("/photos/flower.jpg")
    measure_bytes(encoded.tobytes(), [families[0], Exploding(), *families[1:]], result)
    assert result.decoded
    assert set(result.rows) == {family.name for family in families}
    assert [(e.stage, e.error_kind, e.family, e.family_version) for e in result.errors] == \
        [("metric", "metric_failed", "exploding_test_family", 3)]
    assert "ZeroDivisionError: a family bug" in result.errors[0].message

