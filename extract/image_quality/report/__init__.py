"""``image-quality report``: a static HTML site of what the marts flagged, to look at.

One face of the warehouse, beside the loader: it reads the marts only
(:mod:`.marts`, into the plain data of :mod:`.cards`), makes cached thumbnails from the originals (:mod:`.thumbnails`),
draws the model's features (:mod:`.plots`) and writes ``index.html``
(:mod:`.html`). The site opens from disk with no server and no network.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from .cards import ReportData
from .marts import MartsMissingError
from .thumbnails import ThumbnailStats

DEFAULT_LIMIT = 48


@dataclass
class ReportResult:
    index: Path
    data: ReportData
    thumbnails: ThumbnailStats
    plots: int
    pages: int = 1   # HTML pages written: index.html and each further gallery page


class ReportError(RuntimeError):
    """The report cannot be written (no warehouse, no marts, an unwritable folder)."""


def write_report(db_path: str, out_dir: str | Path, *, limit: int = DEFAULT_LIMIT,
                 lock_timeout_s: float = 10.0) -> ReportResult:
    """Read the marts of ``db_path`` and write ``out_dir/index.html`` with its pages, thumbnails and plots.

    index.html holds the first ``limit`` cards of every gallery; the galleries per
    label, per check and of failures go on over further pages of ``limit`` cards,
    written one at a time, so memory stays flat however many images are flagged.
    """
    from . import html, plots
    from .cards import page_file
    from .marts import MartsReader

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report folder {out}: {exc.strerror or exc}") from None
    with _connected(db_path, lock_timeout_s) as con:
        try:
            reader = MartsReader(con, limit)
            data = reader.read(db_path)
        except MartsMissingError as exc:
            raise ReportError(f"{db_path}: {exc}") from None

    thumbs = _Thumbnails(out)
    thumbs.attach(data.all_cards())
    drawn = plots.draw_feature_plots(out, data.model, data.feature_points)
    axis_names = {f: plots.feature_axis_name(f, t) for f, t in (data.model.transforms.items() if data.model else ())}
    generated_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    index = out / "index.html"
    _write(index, html.render({"data": data, "plots": drawn, "axis_names": axis_names,
                               "generated_at": generated_at}))
    written = {index.name}
    for gallery in data.paged_galleries():
        for page in range(2, gallery.pages + 1):
            with _connected(db_path, lock_timeout_s) as con:   # no lock held while thumbnails are made
                reader.con = con
                cards = reader.page_cards(gallery.key, page)
            thumbs.attach(cards)
            name = page_file(gallery.key, page)
            _write(out / name, html.render_page({"gallery": replace(gallery, cards=cards, page=page),
                                                 "db_path": db_path, "generated_at": generated_at}))
            written.add(name)
    for stale in out.glob("page-*.html"):   # pages of an earlier, longer report
        if stale.name not in written:
            stale.unlink()
    return ReportResult(index.resolve(), data, thumbs.stats, len(drawn), len(written))


@contextmanager
def _connected(db_path: str, lock_timeout_s: float) -> Iterator:
    from .. import warehouse

    try:
        con = warehouse.connect(db_path, read_only=True, lock_timeout_s=lock_timeout_s)
    except (warehouse.WarehouseLockedError, warehouse.WarehouseOpenError) as exc:
        raise ReportError(str(exc)) from None
    try:
        yield con
    finally:
        con.close()


def _write(path: Path, text: str) -> None:
    partial = path.with_name(path.name + ".part")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


class _Thumbnails:
    """Gives cards their thumbnails, page after page; each content's thumbnail is made or found once."""

    def __init__(self, out: Path):
        self.out = out
        self.stats = ThumbnailStats()
        self.done: dict[str, object] = {}   # content hash -> Thumbnail, for contents on several pages

    def attach(self, cards) -> None:
        from . import thumbnails

        wanted: dict[str, list[str]] = {}
        for card in cards:
            if card.content_hash and card.content_hash not in self.done:
                paths = wanted.setdefault(card.content_hash, [])
                if card.path not in paths:
                    paths.append(card.path)
        if wanted:
            made, stats = thumbnails.make_thumbnails(self.out, wanted)
            self.done.update(made)
            for name in ("from_cache", "made", "placeholders", "originals_read"):
                setattr(self.stats, name, getattr(self.stats, name) + getattr(stats, name))
        for card in cards:
            thumb = self.done.get(card.content_hash) if card.content_hash else None
            thumb = thumb or thumbnails.placeholder("the warehouse holds no content for this path")
            card.thumbnail, card.note = thumb.src, thumb.note
