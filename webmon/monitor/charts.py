"""Geometry of the server-rendered SVG charts: numbers in, shapes out.

Templates draw the shapes (monitor/_*.svg.html) with Django's autoescaping,
so any text (titles, labels) is escaped like the rest of the page; here only
numbers are formatted. No JavaScript, no inline styles (the CSP forbids them):
colours come from CSS classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils import dateformat
from django.utils.translation import gettext as _


def _n(value: float) -> str:
    return f"{value:.1f}"


@dataclass(frozen=True)
class Spark:
    width: int
    height: int
    points: str
    last_x: str
    last_y: str


def sparkline(values: Sequence[float], width: int = 120, height: int = 24, pad: float = 2.5) -> Spark | None:
    """A polyline through `values` (oldest first), highest value at the top."""
    if not values:
        return None
    top = max(values) or 1.0
    step = (width - 2 * pad) / max(len(values) - 1, 1)
    coords = [(pad + i * step, height - pad - (v / top) * (height - 2 * pad)) for i, v in enumerate(values)]
    if len(coords) == 1:
        coords = [(pad, coords[0][1]), (width - pad, coords[0][1])]
    points = " ".join(f"{_n(x)},{_n(y)}" for x, y in coords)
    return Spark(width, height, points, _n(coords[-1][0]), _n(coords[-1][1]))


@dataclass(frozen=True)
class Bar:
    x: str
    y: str
    w: str
    h: str
    css: str
    title: str
    href: str | None


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    bars: list[Bar]
    top_label: str  # what the top of the scale stands for


def bar_chart(
    items: Sequence[tuple[float, str, str, str | None]], top_label: str, width: int = 900, height: int = 140
) -> BarChart:
    """Bars of (value, css class, title, link), oldest first, scaled to the largest value."""
    top = max((value for value, *_ in items), default=0.0) or 1.0
    slot = width / max(len(items), 1)
    bars = []
    for i, (value, css, title, href) in enumerate(items):
        h = max(value / top * (height - 4), 1.0)
        bars.append(Bar(_n(i * slot + slot * 0.1), _n(height - h), _n(slot * 0.8), _n(h), css, title, href))
    return BarChart(width, height, bars, top_label)


@dataclass(frozen=True)
class DayCell:
    x: int
    y: int
    day: str  # YYYY-MM-DD
    css: str
    title: str


@dataclass(frozen=True)
class Calendar:
    width: int
    height: int
    size: int
    cells: list[DayCell]
    months: list[tuple[int, str]]  # (x, "Mar")
    label_width: int  # room for the weekday labels on the left
    weekdays: list[tuple[int, str]]  # (y of the baseline, "Mon")


MONTH_LABEL_ROOM = 32  # px past the last column: a month label that starts there is not cut off


def calendar(day_css: dict[str, tuple[str, str]], today: date, days: int = 90, size: int = 18) -> Calendar:
    """A GitHub-style grid: a column per week (Monday on top), a cell per day, 18 px cells by default.

    `day_css` maps 'YYYY-MM-DD' to (css class, title); other days get day-none.
    The width leaves room for the last month's label (it starts at its
    first column, which may be the last one).
    """
    first = today - timedelta(days=days - 1)
    gap, top, left = 3, 16, 30
    cells, months, seen_month = [], [], None
    for offset in range(days):
        day = first + timedelta(days=offset)
        column = (offset + first.weekday()) // 7
        x, y = left + column * (size + gap), top + day.weekday() * (size + gap)
        key = day.isoformat()
        css, title = day_css.get(key, ("day-none", _("%(day)s: no ticks") % {"day": key}))
        cells.append(DayCell(x, y, key, css, title))
        if day.month != seen_month:
            seen_month = day.month
            if months and x - months[-1][0] < 2 * (size + gap):
                months.pop()  # a month with a column or so: its label would overlap the next
            months.append((x, dateformat.format(day, "M")))  # "Nov", in the active language
    columns = (days - 1 + first.weekday()) // 7 + 1
    monday = date(2024, 1, 1)  # a Monday: the labels' names in the active language
    weekdays = [(top + i * (size + gap) + size - 5, dateformat.format(monday + timedelta(days=i), "D"))
                for i in (0, 2, 4)]
    width = left + columns * (size + gap) + MONTH_LABEL_ROOM
    return Calendar(width, top + 7 * (size + gap), size, cells, months, left, weekdays)


@dataclass(frozen=True)
class GanttBar:
    family: str
    status: str
    x: str
    w: str
    y: int
    title: str
    href: str | None


@dataclass(frozen=True)
class Gantt:
    width: int
    height: int
    label_width: int
    bars: list[GanttBar]


def gantt(
    rows: Sequence[tuple[str, str, datetime | None, datetime | None, str, str | None]],
    width: int = 900,
    row_height: int = 22,
    label_width: int = 110,
) -> Gantt:
    """Bars of (family, status, start, end, title, link) on one time axis; a stage that never ran has no bar."""
    spans = [(start, end) for _, _, start, end, _, _ in rows if start is not None and end is not None]
    origin = min((s for s, _ in spans), default=None)
    total = max(((e - origin).total_seconds() for _, e in spans), default=0.0) if origin else 0.0
    scale = (width - label_width - 10) / (total or 1.0)
    bars = []
    for i, (family, status, start, end, title, href) in enumerate(rows):
        if start is None or end is None or origin is None:
            x, w = label_width, 0.0
        else:
            x = label_width + (start - origin).total_seconds() * scale
            w = max((end - start).total_seconds() * scale, 2.0)
        bars.append(GanttBar(family, status, _n(x), _n(w), i * row_height, title, href))
    return Gantt(width, len(rows) * row_height, label_width, bars)


@dataclass(frozen=True)
class GridCell:
    x: int
    y: int
    css: str
    title: str
    href: str | None


@dataclass(frozen=True)
class CoverageGrid:
    width: int
    height: int
    size: int
    label_width: int
    rows: list[tuple[int, str]]  # (y of the label's baseline, field)
    cells: list[GridCell]


COVERAGE_STEPS = ((1.0, "cov-full"), (0.95, "cov-high"), (0.8, "cov-mid"), (0.5, "cov-low"))


def coverage_css(ratio: float | None) -> str:
    """The colour class of a coverage ratio: full, >= 95%, >= 80%, >= 50%, below; none when not measured."""
    if ratio is None:
        return "cov-none"
    return next((css for floor, css in COVERAGE_STEPS if ratio >= floor), "cov-bad")


def coverage_grid(
    fields: Sequence[str], ticks: Sequence[tuple[str, str | None, dict[str, float | None]]],
    size: int = 14, gap: int = 2, label_width: int = 140,
) -> CoverageGrid:
    """A row per field, a column per tick (oldest first): (tick label, link, {field: coverage})."""
    cells = []
    for column, (label, href, coverage) in enumerate(ticks):
        for row, name in enumerate(fields):
            ratio = coverage.get(name)
            if ratio is None:
                title = _("%(tick)s: %(field)s not measured") % {"tick": label, "field": name}
            else:
                title = _("%(tick)s: %(field)s %(share)s") % {"tick": label, "field": name, "share": f"{ratio:.1%}"}
            cells.append(GridCell(label_width + column * (size + gap), row * (size + gap), coverage_css(ratio),
                                  title, href))
    rows = [(row * (size + gap) + size - 3, name) for row, name in enumerate(fields)]
    width = label_width + max(len(ticks), 1) * (size + gap)
    return CoverageGrid(width, max(len(fields), 1) * (size + gap), size, label_width, rows, cells)
