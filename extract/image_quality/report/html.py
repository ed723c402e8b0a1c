"""The report's HTML: one Jinja2 template, autoescaped, so every path and name renders as text."""

from __future__ import annotations

import math
from datetime import datetime
from pathlib import Path

TEMPLATE = "index.html.j2"
PAGE_TEMPLATE = "page.html.j2"
PAGE_LINKS_AROUND = 3   # page links shown either side of the current page (plus the first and the last)


def render(context: dict) -> str:
    """index.html."""
    return _environment().get_template(TEMPLATE).render(**context)


def render_page(context: dict) -> str:
    """One further page of a gallery (``gallery``, ``db_path``, ``generated_at``)."""
    return _environment().get_template(PAGE_TEMPLATE).render(**context)


def _environment():
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True,  # a file named <script>.jpg is text, never markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True, lstrip_blocks=True)
    env.filters["num"] = format_number
    env.filters["when"] = format_time
    env.filters["listing"] = format_listing
    env.filters["page_numbers"] = page_numbers
    return env


def page_numbers(gallery) -> list[int | None]:
    """The page links of a gallery's pager: the first, the last and a few around the current; None for a gap."""
    shown = {1, gallery.pages} | set(range(max(1, gallery.page - PAGE_LINKS_AROUND),
                                           min(gallery.pages, gallery.page + PAGE_LINKS_AROUND) + 1))
    numbers: list[int | None] = []
    for page in sorted(shown):
        if numbers and page - numbers[-1] > 1:
            numbers.append(None)
        numbers.append(page)
    return numbers


def format_number(value) -> str:
    """A measure as a person reads it: 4 significant digits, integers whole, '-' for missing."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if value == 0 or 1e-3 <= abs(value) < 1e6:
            return f"{value:.4g}" if abs(value) < 1000 else f"{value:,.0f}"
        return f"{value:.3e}"
    return str(value)


def format_time(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S %Z").strip()
    return str(value)


def format_listing(value) -> str:
    """A list column (the sources of a run) as comma-separated text."""
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value))
    return "-" if value is None else str(value)
