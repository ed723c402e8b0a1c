"""``image-quality report``: a static HTML site of what the marts flagged, to look at.

One face of the warehouse, beside the loader: it reads the marts only
(:mod:`.marts`, into the plain data of :mod:`.cards`), makes cached thumbnails from the originals (:mod:`.thumbnails`),
draws the model's features (:mod:`.plots`) and writes ``index.html``
(:mod:`.html`). The site opens from disk with no server and no network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

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


class ReportError(RuntimeError):
    """The report cannot be written (no warehouse, no marts, an unwritable folder)."""


def write_report(db_path: str, out_dir: str | Path, *, limit: int = DEFAULT_LIMIT,
                 lock_timeout_s: float = 10.0) -> ReportResult:
    """Read the marts of ``db_path`` and write ``out_dir/index.html`` with its thumbnails and plots."""
    from .. import warehouse
    from . import html, plots, thumbnails
    from .marts import read_report_data

    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ReportError(f"cannot create the report folder {out}: {exc.strerror or exc}") from None
    try:
        con = warehouse.connect(db_path, read_only=True, lock_timeout_s=lock_timeout_s)
    except (warehouse.WarehouseLockedError, warehouse.WarehouseOpenError) as exc:
        raise ReportError(str(exc)) from None
    try:
        data = read_report_data(con, db_path, limit)
    except MartsMissingError as exc:
        raise ReportError(f"{db_path}: {exc}") from None
    finally:
        con.close()

    wanted: dict[str, list[str]] = {}
    for card in data.all_cards():
        if card.content_hash:
            paths = wanted.setdefault(card.content_hash, [])
            if card.path not in paths:
                paths.append(card.path)
    made, stats = thumbnails.make_thumbnails(out, wanted)
    for card in data.all_cards():
        thumb = made.get(card.content_hash) if card.content_hash else None
        thumb = thumb or thumbnails.placeholder("the warehouse holds no content for this path")
        card.thumbnail, card.note = thumb.src, thumb.note
    drawn = plots.draw_feature_plots(out, data.model, data.feature_points)
    axis_names = {f: plots.feature_axis_name(f, t) for f, t in (data.model.transforms.items() if data.model else ())}
    page = html.render({
        "data": data, "plots": drawn, "axis_names": axis_names,
        "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC"),
    })
    index = out / "index.html"
    partial = out / "index.html.part"
    partial.write_text(page, encoding="utf-8")
    partial.replace(index)
    return ReportResult(index.resolve(), data, stats, len(drawn))
