"""The progress bar: files/s and ETA on a terminal, nothing otherwise.

tqdm draws it (a dependency because it handles terminal widths, rates and ETA
smoothing better than a hand-rolled bar would).
"""

from __future__ import annotations

import sys


class FileProgress:
    """A bar over files whose total grows as the loader plans more work."""

    def __init__(self, enabled: bool):
        self._bar = None
        if enabled:
            from tqdm import tqdm

            self._bar = tqdm(total=0, unit="file", desc="measuring", dynamic_ncols=True,
                             file=sys.stderr, leave=False)

    def add_total(self, n: int) -> None:
        if self._bar is not None:
            self._bar.total += n
            self._bar.refresh()

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def wants_progress(quiet: bool) -> bool:
    return not quiet and sys.stderr.isatty()
