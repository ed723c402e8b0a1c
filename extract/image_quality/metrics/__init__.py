"""The registry of metric families: every module in this package that defines one.

Adding a family is one new module here with a :class:`MetricFamily` subclass;
the loader creates its table and computes it on the next run.
"""

from __future__ import annotations

import importlib
import pkgutil
from functools import lru_cache

from .base import MetricFamily


@lru_cache(maxsize=1)
def all_families() -> tuple[MetricFamily, ...]:
    """One instance of every family, ordered by name."""
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")
    found = {cls.name: cls() for cls in _concrete_subclasses(MetricFamily)}
    tables = [f.table for f in found.values()]
    if len(set(tables)) != len(tables):
        raise RuntimeError(f"two metric families share a table: {sorted(tables)}")
    return tuple(found[name] for name in sorted(found))


def _concrete_subclasses(cls):
    for sub in cls.__subclasses__():
        if not getattr(sub, "__abstractmethods__", None):
            yield sub
        yield from _concrete_subclasses(sub)


def families_by_name() -> dict[str, MetricFamily]:
    return {f.name: f for f in all_families()}
