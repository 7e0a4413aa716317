"""Geometry of the server-rendered SVG charts: numbers in, shapes out.

Templates draw the shapes (monitor/_*.svg.html) with Django's autoescaping,
so any text (titles, labels) is escaped like the rest of the page; here only
numbers are formatted. No JavaScript, no inline styles (the CSP forbids them):
colours come from CSS classes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from django.utils import dateformat, timezone
from django.utils.translation import gettext as _

from webmon.monitor.templatetags.monitor import zone_label


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


# -- axes: round values for the scales, labels as operators read them --------------------------------
# Charts are drawn without a viewBox: text and heights are CSS px (readable at any width), x positions
# are percentages of the plot (the svg's content box; the y labels sit in its CSS padding).
PLOT_MIN = 420  # px: the narrowest plot the x labels are spaced for (svg.chart's min-width in monitor.css)
LABEL_GAP = 84  # px between the centres of two x labels at PLOT_MIN (a "2026-03-01" is about 62 px)
# Round steps of a time scale, in seconds: 1, 2, 5, 10, 15, 30 s, 1 ... 30 min, 1 ... 12 h, 1, 2, 7 d.
TIME_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200,
              86400, 172800, 604800)


def _decade_step(raw: float) -> float:
    """The smallest of 1, 2, 5 x 10^k at least `raw`."""
    magnitude = 10 ** math.floor(math.log10(raw))
    return next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw * (1 - 1e-9))


def nice_step(raw: float, unit: str = "count") -> float:
    """A round step of at least `raw`: 1, 2, 5 x 10^k for counts (at least 1), TIME_STEPS for durations."""
    raw = max(raw, 1e-9)
    if unit == "count":
        return max(_decade_step(raw), 1.0)
    if raw <= 1:
        return _decade_step(raw)  # 0.1 s, 0.2 s, 0.5 s, 1 s
    if raw > TIME_STEPS[-1]:
        return TIME_STEPS[-1] * _decade_step(raw / TIME_STEPS[-1])
    return float(next(step for step in TIME_STEPS if step >= raw))


def nice_ticks(top: float, unit: str = "count", count: int = 4) -> list[float]:
    """0, step, 2 step ... up to the first at or above `top`, in about `count` round steps."""
    if top <= 0:
        return [0.0, 1.0]
    step = nice_step(top / count, unit)
    n = max(math.ceil(top / step - 1e-9), 1)
    return [round(i * step, 6) for i in range(n + 1)]


def duration_label(seconds: float) -> str:
    """A round duration as people say it: 0 s, 0.5 s, 30 s, 1 min, 1 min 30 s, 2 h, 1 d."""
    if seconds < 60:
        if seconds == int(seconds):
            return _("%(s).0f s") % {"s": seconds}
        return _("%(s).1f s") % {"s": seconds}
    whole = int(round(seconds))
    if whole < 3600:
        m, rest = divmod(whole, 60)
        return _("%(n)d min") % {"n": m} if not rest else _("%(m)d min %(s)02d s") % {"m": m, "s": rest}
    if whole < 86400:
        h, rest = divmod(whole // 60, 60)
        return _("%(n)d h") % {"n": h} if not rest else _("%(h)d h %(m)02d min") % {"h": h, "m": rest}
    d, rest = divmod(whole // 3600, 24)
    return _("%(n)d d") % {"n": d} if not rest else _("%(d)d d %(h)02d h") % {"d": d, "h": rest}


def count_label(value: float) -> str:
    """0, 500, 1,000, 2.5 (thousands separated, as the tables write them)."""
    return f"{value:,.0f}" if value == int(value) else f"{value:,g}"


def axis_label(value: float, unit: str) -> str:
    return duration_label(value) if unit == "duration" else count_label(value)


@dataclass(frozen=True)
class YTick:
    y: str
    label: str


@dataclass(frozen=True)
class XTick:
    x: str  # percent of the plot's width
    label: str  # the time, in the viewer's zone
    date: str  # the date under it: on the first label and where the day changes, else ""
    title: str  # the instant in UTC (the hover text)


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.2f}%"


def _utc_title(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if timezone.is_aware(at) else str(at)


def x_ticks(points: Sequence[tuple[float, datetime]], fmt: str) -> list[XTick]:
    """Labels at (fraction of the width, instant): the time in `fmt`, the date when the day changes."""
    ticks, day = [], None
    for fraction, at in points:
        local = timezone.localtime(at) if timezone.is_aware(at) else at
        date_text = local.strftime("%Y-%m-%d")
        ticks.append(XTick(_pct(fraction), local.strftime(fmt), date_text if date_text != day else "", _utc_title(at)))
        day = date_text
    return ticks


def time_ticks(start: datetime, end: datetime, count: int = PLOT_MIN // LABEL_GAP) -> tuple[list[datetime], float]:
    """Round instants of the viewer's clock between start and end (every 10 s, 5 min, 1 h ...), and the step."""
    span = max((end - start).total_seconds(), 1.0)
    step = max(nice_step(span / count, "duration"), 1.0)
    local = timezone.localtime(start) if timezone.is_aware(start) else start
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    k = math.ceil((local - midnight).total_seconds() / step - 1e-9)
    ticks = []
    while (at := midnight + timedelta(seconds=k * step)) <= end:
        ticks.append(at)
        k += 1
    return ticks, step


def zone_note(at: datetime | None) -> str:
    """The zone the axis' times are in, e.g. "Times in UTC+08:00"."""
    if at is None:
        return ""
    local = timezone.localtime(at) if timezone.is_aware(at) else at
    return _("Times in %(zone)s") % {"zone": zone_label(local)}


# -- vertical bars over time (the crawl page) ---------------------------------------------------------


@dataclass(frozen=True)
class Bar:
    x: str  # percent
    y: str
    w: str  # percent
    h: str
    css: str
    title: str
    href: str | None


@dataclass(frozen=True)
class BarChart:
    height: int
    base: int  # y of the baseline (the x axis)
    bars: list[Bar]
    y_ticks: list[YTick]
    x_ticks: list[XTick]
    zone: str


BAR_TOP = 8  # px above the highest gridline: half its label
MIN_SLOTS = 20  # a few bars stay narrow, on the left, instead of filling the width


def bar_chart(
    items: Sequence[tuple[float, str, str, str | None, datetime]], unit: str = "count", plot_height: int = 120
) -> BarChart:
    """A bar per (value, css class, title, link, time), oldest first, in equal slots (one per tick, as
    Airflow's grid has a column per run); a y axis of round values, x labels of the bars' times."""
    y_values = nice_ticks(max((value for value, *_ in items), default=0.0), unit)
    top, base = y_values[-1], BAR_TOP + plot_height
    slot = 1 / max(len(items), MIN_SLOTS)
    bars = []
    for i, (value, css, title, href, _at) in enumerate(items):
        h = max(value / top * plot_height, 1.0) if value > 0 else 1.0
        bars.append(Bar(_pct(i * slot + slot * 0.1), _n(base - h), _pct(slot * 0.8), _n(h), css, title, href))
    y_ticks = [YTick(_n(base - v / top * plot_height), axis_label(v, unit)) for v in y_values]
    every = max(math.ceil(LABEL_GAP / (PLOT_MIN * slot)), 1)  # bars between two labels, newest labelled
    labelled = [(i * slot + slot / 2, at) for i, (*_, at) in enumerate(items) if (len(items) - 1 - i) % every == 0]
    return BarChart(base + 36, base, bars, y_ticks, x_ticks(labelled, "%H:%M"), zone_note(items[-1][4] if items else None))


# -- labelled horizontal bars (counts by status, by reason) -------------------------------------------


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


# -- the Gantt chart of a tick's stages (the run page) ------------------------------------------------


@dataclass(frozen=True)
class GanttBar:
    status: str
    x: str  # percent
    w: str  # percent
    y: int
    title: str
    href: str | None
    latest: bool  # the stage's latest attempt (earlier ones are drawn fainter)


@dataclass(frozen=True)
class GanttRow:
    family: str
    y: int  # baseline of the row's label
    bars: list[GanttBar]


@dataclass(frozen=True)
class Gantt:
    height: int
    base: int
    rows: list[GanttRow]
    x_ticks: list[XTick]
    now_x: str | None  # the "now" line while a stage runs
    zone: str


GANTT_TOP = 16  # px above the first row: room for the "now" label


def gantt(
    rows: Sequence[tuple[str, Sequence[tuple[str, datetime, datetime, str, str | None]]]],
    now: datetime | None = None,
    row_height: int = 24,
) -> Gantt:
    """A row per (family, [(status, start, end, title, link), ...]): a bar per attempt, oldest first,
    on one clock axis from the first start to the last end (and `now`, marked, while a stage runs)."""
    spans = [(start, end) for _, attempts in rows for _, start, end, *_ in attempts]
    origin = min((s for s, _ in spans), default=now)
    finish = max([e for _, e in spans] + ([now] if now is not None else []), default=origin)
    if origin is None or finish is None:
        return Gantt(GANTT_TOP + 34, GANTT_TOP, [GanttRow(f, GANTT_TOP + 16, []) for f, _ in rows], [], None, "")
    total = max((finish - origin).total_seconds(), 1.0)

    def at(instant: datetime) -> float:
        return (instant - origin).total_seconds() / total

    drawn = []
    for i, (family, attempts) in enumerate(rows):
        y = GANTT_TOP + i * row_height
        bars = [
            GanttBar(status, _pct(at(start)), _pct(max(at(end) - at(start), 0.002)), y + 5, title, href,
                     j == len(attempts) - 1)
            for j, (status, start, end, title, href) in enumerate(attempts)
        ]
        drawn.append(GanttRow(family, y + 16, bars))
    base = GANTT_TOP + len(rows) * row_height
    ticks, step = time_ticks(origin, finish)
    labels = x_ticks([(at(t), t) for t in ticks], "%H:%M:%S" if step < 60 else "%H:%M")
    return Gantt(base + 36, base, drawn, labels, _pct(at(now)) if now is not None else None, zone_note(origin))


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
