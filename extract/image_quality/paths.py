"""How a file's path is stored: readable text that gives back the exact bytes.

A POSIX file name is any bytes but "/" and NUL; DuckDB VARCHAR and Arrow
strings must be valid UTF-8. ``raw.*.path`` (and ``source_root``, and
``raw.load_runs.sources``) therefore hold the *stored form* of a path:

* the path's bytes decoded as UTF-8, character for character, except that
* a byte that is not part of valid UTF-8 is written ``\\xNN`` (two lower-case
  hex digits), and
* a backslash is written ``\\\\`` (two backslashes), so that a name that really
  contains the characters ``\\xff`` cannot be mistaken for the byte 0xFF.

Every path without a backslash or invalid UTF-8 (in practice, every path) is
stored exactly as ``ls`` shows it, quotes, spaces, newlines and all. The form
is injective and reversible: :func:`to_os` gives the exact bytes back, and two
different paths never share a stored form. Inside the loader a path is always
its stored form; it becomes bytes again only at the filesystem's edge
(discovery and reading).
"""

from __future__ import annotations

import os
import re

# Lone surrogates U+DC80..U+DCFF are how Python's "surrogateescape" carries
# bytes that are not valid UTF-8.
_ESCAPED_BYTE = re.compile("[\udc80-\udcff]")
_ESCAPE = re.compile(r"\\(\\|x[0-9a-f]{2})")


def to_text(path: str | bytes) -> str:
    """The stored form of an OS path (bytes, or str as os functions return it)."""
    raw = os.fsencode(path)
    text = raw.decode("utf-8", "surrogateescape").replace("\\", "\\\\")
    return _ESCAPED_BYTE.sub(lambda m: f"\\x{ord(m.group()) - 0xDC00:02x}", text)


def to_os(stored: str) -> bytes:
    """The exact bytes of the path a stored form stands for; ValueError if it is not one."""
    out = bytearray()
    pos = 0
    for match in _ESCAPE.finditer(stored):
        out += _plain(stored[pos:match.start()])
        escape = match.group(1)
        out += b"\\" if escape == "\\" else bytes([int(escape[1:], 16)])
        pos = match.end()
    out += _plain(stored[pos:])
    return bytes(out)


def _plain(text: str) -> bytes:
    if "\\" in text:
        raise ValueError(f"not a stored path: a lone backslash in {text!r}")
    return text.encode("utf-8")
