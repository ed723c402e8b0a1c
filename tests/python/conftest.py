"""Shared fixtures: real photographs, real image folders, real DuckDB files, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import cv2
import duckdb
import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

# Property tests: `make test` (and so CI) draws the same examples every time, so a run that
# passed passes again. HYPOTHESIS_PROFILE=explore searches new examples on each run instead.
from hypothesis import settings  # noqa: E402

settings.register_profile("repeatable", derandomize=True, database=None)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "repeatable"))


def photographs() -> dict[str, np.ndarray]:
    """Real photographs that ship with our dependencies, as BGR uint8."""
    from image_quality.lab.demo_data import source_photographs

    return dict(source_photographs())


@pytest.fixture(scope="session")
def photos() -> dict[str, np.ndarray]:
    found = photographs()
    assert {"china", "flower"} <= set(found), "scikit-learn's sample photographs are missing"
    return found


def write_jpeg(path: Path, image: np.ndarray, quality: int = 92) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


def write_png(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    path.write_bytes(encoded.tobytes())
    return path


@pytest.fixture
def image_folder(tmp_path, photos) -> Path:
    """A folder of eight distinct JPEGs cut from real photographs, two levels deep."""
    folder = tmp_path / "images"
    names = sorted(photos)[:4]
    for i, name in enumerate(names):
        img = photos[name]
        h, w = img.shape[:2]
        write_jpeg(folder / f"{name}_left.jpg", img[:, : w * 2 // 3])
        write_jpeg(folder / "nested" / f"{name}_top.JPG", img[: h * 2 // 3, :])
    return folder


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """The real console entry point in a subprocess."""
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "image_quality.cli", *args], capture_output=True,
                          text=True, env=full_env, cwd=cwd, timeout=timeout)


def query(db: Path | str, sql: str, params=None) -> list[tuple]:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def last_run(db) -> dict:
    con = duckdb.connect(str(db), read_only=True)
    try:
        cur = con.execute("select * from raw.load_runs order by run_id desc limit 1")
        names = [d[0] for d in cur.description]
        return dict(zip(names, cur.fetchone()))
    finally:
        con.close()


def write_png_libpng_warns_about(path: Path, image: np.ndarray) -> Path:
    """A good PNG carrying an ICC profile chunk (iCCP) that libpng warns about on stderr when it decodes it.

    The profile is shorter than its header says, as in files some editors write; the
    pixels decode normally, so the file is measured like any other.
    """
    import struct
    import zlib

    ok, encoded = cv2.imencode(".png", image)
    assert ok
    png = encoded.tobytes()
    profile = bytearray(132)
    struct.pack_into(">I", profile, 0, 132)
    profile[12:24], profile[36:40] = b"mntrRGB XYZ ", b"acsp"
    struct.pack_into(">I", profile, 64, 0x1000000)   # an invalid rendering intent
    data = b"ICC Profile\x00\x00" + zlib.compress(bytes(profile))
    chunk = struct.pack(">I", len(data)) + b"iCCP" + data + struct.pack(">I", zlib.crc32(b"iCCP" + data))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(png[:33] + chunk + png[33:])   # after the 8-byte signature and the IHDR chunk
    return path
