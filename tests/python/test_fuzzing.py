"""Fuzzing the bytes -> metrics entry point: any bytes end as metrics or as a clean error kind.

``measuring.measure_file`` is what a worker runs for each file. Hypothesis feeds
it arbitrary bytes and mutations of real JPEG, PNG, WebP, TIFF, BMP and GIF
files (bit flips, truncations, insertions, extreme header values, spliced
chunks). Every outcome must be rows for every family, or errors whose kinds
are the documented ones (docs/RELIABILITY.md); ``unexpected_error`` (what
measure_file records if anything else escapes) and ``metric_failed`` (a family
raising on a decodable image) must never appear. Then a corpus of mutations
goes through the real loader and its process pool.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
import tempfile

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from conftest import last_run, photographs, query
from image_quality import loader
from image_quality.decoding import ImageError, decode
from image_quality.measuring import FileTask, measure_file
from image_quality.metrics import all_families

# Error kinds a file's bytes may end in (stage -> kinds); docs/RELIABILITY.md lists them all.
CLEAN_KINDS = {
    "read": {"changed_while_reading", "file_too_large", "not_a_file", "vanished", "permission_denied", "read_failed"},
    "decode": {"empty_file", "not_an_image", "bad_header", "too_many_pixels", "truncated", "decode_failed",
               "out_of_memory"},
}


def seed_files() -> dict[str, bytes]:
    """Small real images in every format we read, a few ways each."""
    bgr = photographs()["china"][100:196, 200:328]
    rgb = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))

    def pillow(image, fmt, **options):
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()

    exif = Image.Exif()
    exif[0x0112] = 6
    return {
        "jpeg": cv2.imencode(".jpg", bgr)[1].tobytes(),
        "jpeg_progressive_exif": pillow(rgb, "JPEG", progressive=True, exif=exif.tobytes()),
        "jpeg_cmyk": pillow(rgb.convert("CMYK"), "JPEG"),
        "png": cv2.imencode(".png", bgr)[1].tobytes(),
        "png16": cv2.imencode(".png", bgr.astype(np.uint16) * 257)[1].tobytes(),
        "png_palette": pillow(rgb.convert("P"), "PNG"),
        "webp_lossy": pillow(rgb, "WEBP", quality=80),
        "webp_animated": pillow(rgb, "WEBP", save_all=True, append_images=[rgb.rotate(90)], lossless=True),
        "tiff": cv2.imencode(".tiff", bgr)[1].tobytes(),
        "tiff_directory_first": pillow(rgb, "TIFF"),  # its tag directory sits in the first bytes
        "bmp": cv2.imencode(".bmp", bgr)[1].tobytes(),
        "gif": pillow(rgb.convert("P"), "GIF"),
    }


SEEDS = seed_files()
_SCRATCH = tempfile.mkdtemp(prefix="fuzz-")


def measure_bytes_as_file(data: bytes):
    path = os.path.join(_SCRATCH, "fuzzed.jpg")
    with open(path, "wb") as f:
        f.write(data)
    return measure_file(FileTask(path))


def assert_clean(result) -> None:
    """Rows for every family, or only documented error kinds; never an exception."""
    if not result.errors:
        assert result.decoded and set(result.rows) == {f.name for f in all_families()}
        return
    for error in result.errors:
        assert error.error_kind in CLEAN_KINDS.get(error.stage, ()), (error.stage, error.error_kind, error.message)
    assert not result.rows


@st.composite
def mutations(draw):
    """A real file with 1-6 edits: byte flips, truncation, insertion, extreme values, spliced chunks."""
    data = bytearray(SEEDS[draw(st.sampled_from(sorted(SEEDS)))])
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        kind = draw(st.sampled_from(["flip", "truncate", "insert", "extreme", "splice", "header"]))
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=32))
        elif kind == "extreme":
            data[at:at + 4] = draw(st.sampled_from([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00", b"\x7f\xff\xff\xff",
                                                    b"\x80\x00\x00\x00", b"\x00\x00\x00\x01"]))
        elif kind == "splice":
            end = draw(st.integers(at, len(data)))
            data[at:at] = data[at:end]
        else:  # the first 64 bytes hold the headers: hit them hardest
            data[draw(st.integers(0, min(63, len(data) - 1)))] = draw(st.integers(0, 255))
    return bytes(data)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_end_as_a_clean_error(data):
    assert_clean(measure_bytes_as_file(data))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(sorted(SEEDS)).map(SEEDS.get).flatmap(
    lambda seed: st.binary(min_size=1, max_size=64).map(lambda tail: seed[:16] + tail)))
def test_a_real_signature_with_garbage_after_it_ends_clean(data):
    """The first bytes of each format (so the right parser runs), then anything."""
    assert_clean(measure_bytes_as_file(data))


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutations())
def test_mutations_of_real_images_end_as_metrics_or_a_clean_error(data):
    assert_clean(measure_bytes_as_file(data))


HEADER_BYTES = 128
HEADER_VALUES = (0x00, 0x01, 0x7F, 0x80, 0xFF)


def test_every_single_byte_change_in_every_header_ends_clean():
    """A sweep, not a sample: each of the first 128 bytes of each seed set to 0, 1, 127, 128 and 255.

    It found two things. A TIFF whose directory claims more entries than it has
    made Pillow raise TypeError("Missing dimensions"), which escaped decode().
    A PNG with one length byte changed made OpenCV allocate 4 GB and spend 6 s
    before failing; PNG chunks are now checked against the file's size first.
    """
    for name, seed in SEEDS.items():
        for offset in range(min(HEADER_BYTES, len(seed))):
            for value in HEADER_VALUES:
                data = bytearray(seed)
                data[offset] = value
                try:
                    decode(bytes(data))
                except ImageError as exc:
                    assert exc.kind in CLEAN_KINDS["decode"], (name, offset, value, exc.kind)


def test_a_png_chunk_longer_than_the_file_is_refused_before_the_decoder_allocates_it(tmp_path):
    data = bytearray(SEEDS["png"])
    data[33] = 0xFF  # the first byte of the second chunk's length: now about 4 GB
    with pytest.raises(ImageError) as err:
        decode(bytes(data))
    assert err.value.kind == "truncated"
    # in a fresh process, so its peak memory is this decode's own (OpenCV's allocations are not Python's).
    # The peak is VmHWM, the high-water mark of the process's own memory: ru_maxrss would not do, as
    # Linux carries it across exec from the forking parent, here the whole pytest process.
    sample = tmp_path / "long_chunk.png"
    sample.write_bytes(bytes(data))
    code = ("import sys\n"
            "from image_quality.decoding import ImageError, decode\n"
            "try:\n    decode(open(sys.argv[1], 'rb').read())\nexcept ImageError as e:\n    print(e.kind)\n"
            "print(next(l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')))")
    done = subprocess.run([sys.executable, "-c", code, str(sample)], capture_output=True, text=True, check=True)
    kind, peak_kib = done.stdout.split()
    assert kind == "truncated" and int(peak_kib) < 1_000_000  # under 1 GB; 4.2 GB before the check


def test_a_tiff_whose_directory_lies_is_a_bad_header():
    data = bytearray(SEEDS["tiff_directory_first"])
    data[8] = 0x7F  # the entry count of the first directory
    with pytest.raises(ImageError) as err:
        decode(bytes(data))
    assert err.value.kind == "bad_header"


def test_every_seed_is_measured():
    """The seeds themselves are good images: the fuzzing starts from files that work."""
    for name, data in SEEDS.items():
        result = measure_bytes_as_file(data)
        assert not result.errors and result.decoded, (name, result.errors)


@pytest.mark.slow
def test_a_corpus_of_mutations_through_the_real_pool(tmp_path):
    """200 mutated files through the loader and its process pool: no crash, every file accounted for."""
    rng = random.Random(6)
    folder = tmp_path / "fuzzed"
    folder.mkdir()
    names = sorted(SEEDS)
    for i in range(200):
        data = bytearray(SEEDS[names[i % len(names)]])
        for _ in range(rng.randint(1, 4)):
            at = rng.randrange(len(data))
            choice = rng.random()
            if choice < 0.5:
                data[at] = rng.randrange(256)
            elif choice < 0.7:
                del data[max(at, 8):]
            else:
                data[at:at] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 16)))
        (folder / f"fuzz_{i:03d}.{('jpg', 'png', 'webp', 'tif', 'bmp')[i % 5]}").write_bytes(bytes(data))
    db = tmp_path / "w.duckdb"
    summary = loader.extract([str(folder)], db_path=str(db), workers=2)
    assert last_run(db)["status"] == "succeeded"
    assert summary.counts.files_scanned == 200
    measured = query(db, """select count(distinct f.path) from raw.files f
                             join raw.metric_laplacian using (content_hash)""")[0][0]
    failed = query(db, "select count(distinct path) from raw.extract_errors")[0][0]
    assert measured + failed == 200 and failed == summary.counts.files_failed
    kinds = query(db, "select distinct stage, error_kind from raw.extract_errors")
    for stage, kind in kinds:
        assert kind in CLEAN_KINDS.get(stage, ()), (stage, kind)
