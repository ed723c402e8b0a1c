"""What the report shows, as plain data: the model, cards, galleries, clusters and the whole page.

Filled by :mod:`.marts`, given thumbnails by :mod:`.thumbnails`, rendered by :mod:`.html`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import quote

from .. import paths


@dataclass(frozen=True)
class ModelClass:
    label: str
    index: int
    prior: float
    theta: dict[str, float]   # feature -> mean of the transformed feature
    var: dict[str, float]


@dataclass(frozen=True)
class Model:
    version: str
    classes: tuple[ModelClass, ...]
    features: tuple[str, ...]
    transforms: dict[str, str]  # feature -> transform name (identity, ln_x_plus_1, ...)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(c.label for c in self.classes)


@dataclass
class Card:
    """One image in a gallery: where it is, what the model and checks say, the measures behind it."""

    path: str
    content_hash: str | None
    label: str | None
    probabilities: list[tuple[str, float | None]]
    measures: list[tuple[str, object]]
    failed_checks: str | None = None
    badge: str | None = None          # e.g. "keep" in a duplicate cluster, "was sharp" when relabelled
    thumbnail: str | None = None      # relative URL, set once thumbnails are made
    note: str | None = None           # why there is a placeholder instead of the picture

    @property
    def original_url(self) -> str | None:
        """A file:// URL of the original (its exact bytes, percent-encoded), or None if it is not local."""
        if "://" in self.path:
            return None
        try:
            return "file://" + quote(paths.to_os(self.path))
        except ValueError:  # not a stored path
            return None


@dataclass
class Gallery:
    key: str            # stable id for the page anchor and the tests: label-blurry, check-too_dark, ...
    title: str
    total: int          # images in the marts that belong here
    order: str          # how the cards are ordered, in words
    cards: list[Card] = field(default_factory=list)
    pages: int = 1      # pages of at most --limit cards; page 1 is on index.html
    page: int = 1       # the page these cards are

    def page_href(self, page: int) -> str:
        """Where page ``page`` of this gallery is, relative to the report's folder."""
        return f"index.html#{self.key}" if page == 1 else page_file(self.key, page)


def page_file(key: str, page: int) -> str:
    """The file of page ``page`` (2 and later) of gallery ``key``: a safe name beside index.html."""
    return "page-" + re.sub(r"[^A-Za-z0-9_-]", "_", key) + f"-{page}.html"


@dataclass
class Cluster:
    key: str
    cards: list[Card]
    min_distance: int | None
    exact: bool
    total: int = 0      # paths in the cluster; the cards shown are at most --limit of them


@dataclass
class ReportData:
    db_path: str
    image_count: int
    scored_count: int
    label_counts: list[tuple[str, int]]
    check_counts: list[tuple[str, int]]
    model: Model | None
    model_versions_scored: list[tuple[str | None, int]]
    runs: list[dict]
    label_galleries: list[Gallery]
    check_galleries: list[Gallery]
    failures: Gallery | None
    cluster_count: int
    clusters: list[Cluster]
    feature_points: dict[str, dict[str, list[float]]]  # label -> feature -> raw values
    latest_run: int | None
    previous_run: int | None
    changes: list[Gallery]
    notes: list[str]

    def paged_galleries(self) -> list[Gallery]:
        """The galleries that page through every image they hold: per label, per check, the failures."""
        return self.label_galleries + self.check_galleries + ([self.failures] if self.failures else [])

    def all_cards(self) -> list[Card]:
        """The cards of index.html (each paged gallery's first page)."""
        cards = [c for g in self.paged_galleries() + self.changes for c in g.cards]
        return cards + [c for cluster in self.clusters for c in cluster.cards]
