"""What every metric family is: a name, a table, a version, columns and a pure calculation.

A family computes one group of related measures from an :class:`AnalysisImage`
(the one decode of a file, at the analysis resolution). It knows nothing of
files, hashes or databases: the loader maps it over content and stores its rows
in ``raw.<table>``, keyed by (content_hash, metric_version).

Bump ``version`` whenever the definition changes (constants, colour conversion,
resolution policy, formula): the next run recomputes that family alone, for
every content hash a present path holds, and keeps the old rows beside the new.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar, Mapping

from ..decoding import AnalysisImage

# SQL types a family may declare for its columns (portable names).
SQL_TYPES = frozenset({"double", "bigint", "integer", "varchar", "boolean"})


class MetricFamily(ABC):
    """One measured property of an image, stored in its own raw table."""

    name: ClassVar[str]
    table: ClassVar[str]
    version: ClassVar[int]
    columns: ClassVar[Mapping[str, str]]  # column name -> SQL type, in table order

    @abstractmethod
    def calculate(self, image: AnalysisImage) -> dict[str, object]:
        """The family's measures for one image: a value for every declared column."""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if getattr(cls, "__abstractmethods__", None):
            return
        for attr in ("name", "table", "version", "columns"):
            if not hasattr(cls, attr):
                raise TypeError(f"metric family {cls.__name__} must define {attr}")
        bad = {c: t for c, t in cls.columns.items() if t not in SQL_TYPES}
        if bad:
            raise TypeError(f"metric family {cls.name}: unsupported column types {bad}")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name} v{self.version}>"
