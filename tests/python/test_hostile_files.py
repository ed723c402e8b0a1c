"""Hostile files, end to end: one real extract over a folder of every bad case beside good photos.

The folder is built once; the real CLI extracts it (worker pool included) into a
real DuckDB file, and each test reads the outcome of one case. Every case ends
as metrics or as a row in raw.extract_errors with a clear kind; the run itself
succeeds and the good photographs beside the bad files are all measured.
docs/RELIABILITY.md lists these cases and the behaviour each test proves.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from conftest import last_run, query, run_cli, write_jpeg, write_png
from image_quality.decoding import MAX_PIXELS, decode
from image_quality.measuring import MAX_FILE_BYTES
from image_quality.metrics import all_families
from image_quality.metrics.fft import MAGNITUDE_FLOOR

GOOD = ("good_china.jpg", "good_flower.jpg", "nested/good_china_crop.png", "nested/good_flower_crop.png")
FFT_FLOOR = 20 * float(np.log(MAGNITUDE_FLOOR))  # what a wholly zeroed spectrum measures, exactly


def png_header_claiming(width: int, height: int) -> bytes:
    """A valid PNG signature and IHDR claiming a huge image, with one tiny IDAT."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 16))
            + chunk(b"IEND", b""))


def pillow_bytes(image: Image.Image, fmt: str, **options) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def with_orientation(rgb: np.ndarray, orientation: int, fmt: str = "JPEG") -> bytes:
    """The same pixels, encoded the same way, with an EXIF orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    options = {"quality": 90} if fmt == "JPEG" else {}
    return pillow_bytes(Image.fromarray(rgb), fmt, exif=exif.tobytes(), **options)


def animation_frames(rgb: np.ndarray) -> list[Image.Image]:
    return [Image.fromarray(rgb), Image.fromarray(255 - rgb), Image.fromarray(np.ascontiguousarray(rgb[::-1]))]


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, photos):
    """(folder, db, completed CLI run) for one extract over every hostile file."""
    root = tmp_path_factory.mktemp("hostile")
    folder = root / "uploads"
    china, flower = photos["china"], photos["flower"]
    china_rgb = cv2.cvtColor(china, cv2.COLOR_BGR2RGB)
    small_rgb = np.ascontiguousarray(china_rgb[:200, :300])

    write_jpeg(folder / GOOD[0], china)
    write_jpeg(folder / GOOD[1], flower)
    write_png(folder / GOOD[2], china[50:250, 100:400])
    write_png(folder / GOOD[3], flower[100:300, 50:350])

    files = {
        "empty.jpg": b"",
        "truncated.jpg": (lambda d: d[: len(d) * 2 // 3])(cv2.imencode(".jpg", china)[1].tobytes()),
        "text.jpg": b"hello, I am a note someone saved as .jpg\n",
        "page.jpg": b"<!doctype html><html><body><h1>404 Not Found</h1></body></html>\n",
        "png16.png": cv2.imencode(".png", cv2.cvtColor(small_rgb, cv2.COLOR_RGB2BGR).astype(np.uint16) * 257)[1].tobytes(),
        "png8.png": cv2.imencode(".png", cv2.cvtColor(small_rgb, cv2.COLOR_RGB2BGR))[1].tobytes(),
        "png_alpha.png": pillow_bytes(Image.fromarray(small_rgb).convert("RGBA"), "PNG"),
        "png_palette.png": pillow_bytes(Image.fromarray(small_rgb).convert("P"), "PNG"),
        "png_grey.png": pillow_bytes(Image.fromarray(small_rgb).convert("L"), "PNG"),
        "cmyk.jpg": pillow_bytes(Image.fromarray(small_rgb).convert("CMYK"), "JPEG", quality=95),
        "animated.webp": pillow_bytes(animation_frames(small_rgb)[0], "WEBP", save_all=True, lossless=True,
                                      append_images=animation_frames(small_rgb)[1:], duration=100, loop=0),
        "animated.gif": pillow_bytes(animation_frames(small_rgb)[0], "GIF", save_all=True,
                                     append_images=animation_frames(small_rgb)[1:], duration=100, loop=0),
        "one_pixel.png": cv2.imencode(".png", np.full((1, 1, 3), 200, np.uint8))[1].tobytes(),
        "long_row.png": cv2.imencode(".png", np.tile(np.arange(256, dtype=np.uint8), 391)[:100_000]
                                     .reshape(1, 100_000, 1).repeat(3, axis=2))[1].tobytes(),
        "bomb.png": png_header_claiming(50_000, 50_000),
    }
    big_rgb = cv2.resize(china_rgb, (2560, 1708), interpolation=cv2.INTER_CUBIC)
    for orientation in (1, 3, 6, 8):
        files[f"exif/big_o{orientation}.jpg"] = with_orientation(big_rgb, orientation)
        files[f"exif/small_o{orientation}.jpg"] = with_orientation(small_rgb, orientation)
    files["exif/small_o6.png"] = with_orientation(small_rgb, 6, "PNG")
    files["exif/small_o6.tif"] = with_orientation(small_rgb, 6, "TIFF")
    files["gif_renamed.jpg"] = files["animated.gif"]
    for name, data in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)

    # Not files, or not readable as files.
    os.mkfifo(folder / "fifo.jpg")                       # opening it would block forever
    (folder / "folder.jpg").mkdir()                      # a folder named like an image is a folder
    write_jpeg(folder / "folder.jpg" / "inside.jpg", china[:120, :160])
    os.symlink("loop_b.jpg", folder / "loop_a.jpg")      # a link loop between two files
    os.symlink("loop_a.jpg", folder / "loop_b.jpg")
    os.symlink("..", folder / "nested" / "up")           # a folder loop: nested/up/nested/up/...
    with open(folder / "huge.jpg", "wb") as sparse:      # larger than any image we read; sparse, so free
        sparse.truncate(MAX_FILE_BYTES + 1)

    db = root / "w.duckdb"
    result = run_cli("extract", str(folder), "--db", str(db), "--workers", "2")
    return folder, db, result


def stored(folder: Path, name: str) -> str:
    return (folder / name).as_posix()


def measures(db, path: str) -> dict | None:
    """Every family's columns for the content a path holds now, or None if it holds none."""
    row = {}
    for family in all_families():
        cols = ", ".join(f"m.{c}" for c in family.columns)
        found = query(db, f"""select {cols} from raw.files f join raw.{family.table} m using (content_hash)
                               where f.path = ? and f.valid_to_run is null""", [path])
        if not found:
            return None
        row.update(zip(family.columns, found[0]))
    return row


def errors(db, path: str) -> list[tuple]:
    """The error rows of the fixture's run (run 1) for one path."""
    return query(db, "select stage, error_kind, message, content_hash from raw.extract_errors "
                     "where run_id = 1 and path = ? order by all", [path])


def error_kind(db, path: str) -> tuple[str, str]:
    found = errors(db, path)
    assert len(found) == 1, found
    return found[0][:2]


def test_the_run_succeeds_and_every_good_file_is_measured(hostile):
    folder, db, result = hostile
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert query(db, "select status from raw.load_runs where run_id = 1") == [("succeeded",)]
    for name in GOOD + ("folder.jpg/inside.jpg",):
        assert measures(db, stored(folder, name)) is not None, name
    # every error row names a file of this run, with a clear kind
    failed_paths = {p for (p,) in query(db, "select distinct path from raw.extract_errors where run_id = 1")}
    assert query(db, "select files_failed from raw.load_runs where run_id = 1") == [(len(failed_paths),)]
    assert query(db, "select count(*) from raw.extract_errors where error_kind = 'unexpected_error'") == [(0,)]


def test_every_discovered_file_ends_measured_or_recorded(hostile):
    """Nothing is lost: a file the run saw is in raw.files with metrics, or has an error row."""
    folder, db, _ = hostile
    outcome = query(db, """
        select f.path, count(m.content_hash) > 0 as measured,
               exists (select 1 from raw.extract_errors e where e.content_hash = f.content_hash) as failed
          from raw.files f left join raw.metric_laplacian m using (content_hash)
         where f.valid_to_run is null group by f.path, f.content_hash""")
    assert outcome and all(measured or failed for _, measured, failed in outcome)
    assert not any(measured and failed for _, measured, failed in outcome)


@pytest.mark.parametrize("name, stage, kind", [
    ("empty.jpg", "decode", "empty_file"),
    ("truncated.jpg", "decode", "truncated"),
    ("text.jpg", "decode", "not_an_image"),
    ("page.jpg", "decode", "not_an_image"),
    ("bomb.png", "decode", "too_many_pixels"),
    ("huge.jpg", "read", "file_too_large"),
    ("fifo.jpg", "discover", "not_a_file"),
    ("loop_a.jpg", "discover", "link_loop"),
    ("loop_b.jpg", "discover", "link_loop"),
])
def test_bad_file_becomes_one_error_row_with_a_clear_kind(hostile, name, stage, kind):
    folder, db, _ = hostile
    assert error_kind(db, stored(folder, name)) == (stage, kind)
    assert measures(db, stored(folder, name)) is None


def test_errors_of_readable_bytes_carry_their_content_hash(hostile):
    """A file whose bytes were read is tied to its content, so it is not decoded again."""
    folder, db, _ = hostile
    data = (folder / "truncated.jpg").read_bytes()
    assert errors(db, stored(folder, "truncated.jpg"))[0][3] == hashlib.sha256(data).hexdigest()


def test_header_bomb_is_refused_from_its_header(hostile):
    folder, db, _ = hostile
    (_, kind, message, content_hash), = errors(db, stored(folder, "bomb.png"))
    assert kind == "too_many_pixels" and content_hash is not None
    assert "50000x50000" in message and f"{MAX_PIXELS:,}" in message


def test_png_bit_depths_alpha_palette_and_grey_are_measured(hostile):
    folder, db, _ = hostile
    png8 = measures(db, stored(folder, "png8.png"))
    png16, alpha = measures(db, stored(folder, "png16.png")), measures(db, stored(folder, "png_alpha.png"))
    # 16-bit samples scale back to the same 8 bits; alpha is dropped: the very same measures
    skip = {"colour_mode", "channels"}
    assert {k: v for k, v in png16.items() if k not in skip} == {k: v for k, v in png8.items() if k not in skip}
    assert {k: v for k, v in alpha.items() if k not in skip} == {k: v for k, v in png8.items() if k not in skip}
    assert (alpha["colour_mode"], alpha["channels"]) == ("RGBA", 4)
    palette, grey = measures(db, stored(folder, "png_palette.png")), measures(db, stored(folder, "png_grey.png"))
    assert (palette["colour_mode"], palette["width"], palette["height"]) == ("P", 300, 200)
    assert (grey["colour_mode"], grey["channels"]) == ("L", 1)
    # grey is measured on the grey levels themselves
    assert grey["laplacian_var"] == pytest.approx(png8["laplacian_var"], rel=0.05)


def test_cmyk_jpeg_is_converted_and_measured(hostile, photos):
    folder, db, _ = hostile
    cmyk, rgb = measures(db, stored(folder, "cmyk.jpg")), measures(db, stored(folder, "png8.png"))
    assert (cmyk["format"], cmyk["colour_mode"], cmyk["channels"]) == ("jpeg", "CMYK", 4)
    assert cmyk["brightness_mean"] == pytest.approx(rgb["brightness_mean"], abs=2.0)  # the photo, not inverted


def test_animated_webp_is_measured_on_its_first_frame(hostile, photos):
    folder, db, _ = hostile
    row = measures(db, stored(folder, "animated.webp"))
    assert (row["format"], row["frames"]) == ("webp", 3)
    first = cv2.cvtColor(photos["china"][:200, :300], cv2.COLOR_BGR2GRAY)
    assert row["brightness_mean"] == pytest.approx(float(first.mean()), abs=1e-9)   # lossless first frame


def test_gif_is_not_an_image_extension_but_a_renamed_gif_is_measured(hostile):
    folder, db, _ = hostile
    assert query(db, "select count(*) from raw.files where path = ?", [stored(folder, "animated.gif")]) == [(0,)]
    assert errors(db, stored(folder, "animated.gif")) == []
    row = measures(db, stored(folder, "gif_renamed.jpg"))
    assert (row["format"], row["frames"]) == ("gif", 3)
    # measured on its first frame: the pixel fingerprint is that of frame 0 as Pillow decodes it, and
    # no other frame's (frame 2 is frame 0 upside down: same brightness, other pixels)
    gif = Image.open(io.BytesIO((folder / "gif_renamed.jpg").read_bytes()))
    frame_hashes = []
    for index in range(gif.n_frames):
        gif.seek(index)
        bgr = cv2.cvtColor(np.asarray(gif.convert("RGB")), cv2.COLOR_RGB2BGR)
        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY)
        frame_hashes.append(hashlib.sha256(f"{grey.shape[1]}x{grey.shape[0]}:".encode()
                                           + np.ascontiguousarray(grey).tobytes()).hexdigest())
    assert len(set(frame_hashes)) == 3
    assert row["pixel_hash"] == frame_hashes[0]


def test_one_pixel_image_is_measured(hostile):
    folder, db, _ = hostile
    row = measures(db, stored(folder, "one_pixel.png"))
    assert (row["width"], row["height"], row["analysis_width"], row["analysis_height"]) == (1, 1, 1, 1)
    assert row["laplacian_var"] == 0 and row["sobel_magnitude_mean"] == 0
    assert row["fft_hf_mean"] == pytest.approx(FFT_FLOOR, abs=1e-9)
    assert row["brightness_mean"] == pytest.approx(200, abs=0.5)


def test_100000_by_1_image_is_measured_at_512_by_1(hostile):
    folder, db, _ = hostile
    row = measures(db, stored(folder, "long_row.png"))
    assert (row["width"], row["height"], row["analysis_width"], row["analysis_height"]) == (100_000, 1, 512, 1)
    assert all(np.isfinite(v) for v in row.values() if isinstance(v, float))


@pytest.mark.parametrize("size", ["big", "small"])
@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_exif_orientation_is_applied_to_pixels_and_size(hostile, size, orientation):
    """Same JPEG stream, another orientation tag: the measures of the rotated photo.

    "big" (2560x1708) goes through libjpeg's reduced decode (IMREAD_REDUCED_COLOR_2)
    and area averaging; "small" (300x200) is decoded at its own size.
    """
    folder, db, _ = hostile
    upright = measures(db, stored(folder, f"exif/{size}_o1.jpg"))
    turned = measures(db, stored(folder, f"exif/{size}_o{orientation}.jpg"))
    quarter_turn = orientation in (6, 8)
    expected_size = ((upright["height"], upright["width"]) if quarter_turn else (upright["width"], upright["height"]))
    assert (turned["width"], turned["height"]) == expected_size
    expected_analysis = ((upright["analysis_height"], upright["analysis_width"]) if quarter_turn
                         else (upright["analysis_width"], upright["analysis_height"]))
    assert (turned["analysis_width"], turned["analysis_height"]) == expected_analysis
    # The Laplacian does not care which way up; Sobel's x and y trade places on a quarter turn.
    assert turned["laplacian_var"] == pytest.approx(upright["laplacian_var"], rel=1e-5)
    x, y = ("sobel_y_var", "sobel_x_var") if quarter_turn else ("sobel_x_var", "sobel_y_var")
    assert turned[x] == pytest.approx(upright["sobel_x_var"], rel=1e-5)
    assert turned[y] == pytest.approx(upright["sobel_y_var"], rel=1e-5)
    assert turned["brightness_mean"] == pytest.approx(upright["brightness_mean"], rel=1e-6)


@pytest.mark.parametrize("name", ["exif/small_o6.png", "exif/small_o6.tif"])
def test_exif_orientation_of_png_and_tiff(hostile, name):
    """PNG (eXIf chunk) and TIFF (its Orientation tag) are turned too, header and pixels alike."""
    folder, db, _ = hostile
    row = measures(db, stored(folder, name))
    assert (row["width"], row["height"], row["analysis_width"], row["analysis_height"]) == (200, 300, 200, 300)


def test_exif_rotated_pixels_are_the_rotated_photo(photos):
    """decode() itself, on the reduced JPEG path: pixels turned (or mirrored), not just the size.

    All eight EXIF orientations: the tag says how the stored pixels must be
    turned to display; 2, 4, 5 and 7 include a mirror.
    """
    rgb = cv2.resize(cv2.cvtColor(photos["china"], cv2.COLOR_BGR2RGB), (2560, 1708), interpolation=cv2.INTER_CUBIC)
    upright = decode(with_orientation(rgb, 1)).grey.astype(int)
    for orientation, turn in ((2, lambda a: a[:, ::-1]), (3, lambda a: a[::-1, ::-1]), (4, lambda a: a[::-1]),
                              (5, lambda a: a.T), (6, lambda a: np.rot90(a, -1)),
                              (7, lambda a: a[::-1, ::-1].T), (8, lambda a: np.rot90(a, 1))):
        turned = decode(with_orientation(rgb, orientation)).grey.astype(int)
        assert turned.shape == turn(upright).shape
        assert np.abs(turned - turn(upright)).max() <= 1, orientation  # area averaging rounds either way


def test_folder_loops_end_and_a_folder_named_jpg_is_walked(hostile):
    folder, db, _ = hostile
    assert query(db, "select count(*) from raw.files where contains(path, '/up/')") == [(0,)]
    assert measures(db, stored(folder, "folder.jpg/inside.jpg")) is not None
    assert errors(db, stored(folder, "folder.jpg")) == []


def test_a_second_run_reads_only_what_has_no_content_to_remember(hostile):
    """Failed content is not retried; what could not be read at all (no hash) is looked at again."""
    folder, db, _ = hostile
    result = run_cli("extract", str(folder), "--db", str(db), "--workers", "2")
    assert result.returncode == 0, result.stderr
    run = last_run(db)
    assert run["images_decoded"] == 0
    assert run["files_read"] == 0   # huge.jpg is refused from its size, before a byte is read
    retried = query(db, "select path, error_kind from raw.extract_errors where run_id = ? order by all",
                    [run["run_id"]])
    assert retried == sorted((stored(folder, n), k) for n, k in [
        ("fifo.jpg", "not_a_file"), ("huge.jpg", "file_too_large"),
        ("loop_a.jpg", "link_loop"), ("loop_b.jpg", "link_loop")])

