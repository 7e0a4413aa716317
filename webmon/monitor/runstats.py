"""A run's stats (the stage's `run_stats`, stored as JSON) as rows a person reads.

Known keys get a label and a unit: bytes as B / KiB / MiB / GiB, durations as s / min / h,
rates as pages/s, ratios as %, counts with thousands separators; the exact value is the
row's title where the shown one rounds. A nested object becomes a sub-table, and counts by
reason or by status (`failed_by_reason`, `responses_by_status`, any `*_by_*` object of whole
numbers) a small horizontal bar chart, largest first. Unknown keys are shown too, under their
own name, as text (the template escapes it). Pure functions: stats in, rows out.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from webmon.history.runs import stored_object
from webmon.monitor.templatetags.monitor import human

MAX_DEPTH = 3  # sub-tables inside sub-tables; deeper, an object is shown as JSON text
MAX_BARS = 12  # bars of a chart; the rest are one "N other" bar
BAR_WIDTH = 160  # pixels of the longest bar
MAX_TEXT = 2000  # characters of a text value

COUNT, BYTES, SECONDS, RATE, RATIO, FLAG, TEXT = "count", "bytes", "seconds", "rate", "ratio", "flag", "text"

# key: (label, kind), in the order rows are shown; keys not here follow in their stored order.
KNOWN: dict[str, tuple[Promise, str]] = {
    "summary": (gettext_lazy("Summary"), TEXT),
    # FetchPages
    "discovered": (gettext_lazy("URLs discovered"), COUNT),
    "fetched": (gettext_lazy("Pages fetched"), COUNT),
    "failed": (gettext_lazy("Failed"), COUNT),
    "skipped": (gettext_lazy("Skipped"), COUNT),
    "queued": (gettext_lazy("Still queued"), COUNT),
    "requests": (gettext_lazy("Requests"), COUNT),
    "retries": (gettext_lazy("Retries"), COUNT),
    "bytes": (gettext_lazy("Size"), BYTES),
    "elapsed_s": (gettext_lazy("Elapsed"), SECONDS),
    "pages_per_s": (gettext_lazy("Rate"), RATE),
    "responses_by_status": (gettext_lazy("Responses by status"), COUNT),
    "failed_by_reason": (gettext_lazy("Failures by reason"), COUNT),
    "skipped_by_reason": (gettext_lazy("Skips by reason"), COUNT),
    "skipped_by_budget": (gettext_lazy("Skips by budget"), COUNT),
    "retries_by_reason": (gettext_lazy("Retries by reason"), COUNT),
    "middleware": (gettext_lazy("Middleware counters"), COUNT),
    # ParsePages
    "pages": (gettext_lazy("Pages"), COUNT),
    "item_pages": (gettext_lazy("Item pages"), COUNT),
    "items": (gettext_lazy("Items"), COUNT),
    "no_item": (gettext_lazy("Item pages without an item"), COUNT),
    "errors": (gettext_lazy("Errors"), COUNT),
    "error_ratio": (gettext_lazy("Error ratio"), RATIO),
    "parsed_at_fetch": (gettext_lazy("Parsed at fetch time"), FLAG),
    # StoreItems
    "new": (gettext_lazy("New"), COUNT),
    "changed": (gettext_lazy("Changed"), COUNT),
    "unchanged": (gettext_lazy("Unchanged"), COUNT),
    "duplicates": (gettext_lazy("Duplicate keys"), COUNT),
    "warnings": (gettext_lazy("Warnings"), TEXT),
    "limits": (gettext_lazy("Limits reached"), TEXT),
    "quality": (gettext_lazy("Data quality"), TEXT),
    # RunCrawl
    "fetch": (gettext_lazy("Fetch"), TEXT),
    "store": (gettext_lazy("Store"), TEXT),
    # exports, spiders, scripts
    "rows": (gettext_lazy("Rows"), COUNT),
    "items_dropped": (gettext_lazy("Items dropped"), COUNT),
    "path": (gettext_lazy("Path"), TEXT),
    "format": (gettext_lazy("Format"), TEXT),
    "exit_code": (gettext_lazy("Exit code"), TEXT),
}


@dataclass(frozen=True)
class Bar:
    """One bar of a chart of counts: its label (a reason, a status code), count, share and width."""

    label: str
    count: str
    share: str
    width: int
    css: str


@dataclass(frozen=True)
class Row:
    """One stat: a value (text with its exact form as title), or a sub-table, bars or a list."""

    key: str
    label: str
    kind: str = TEXT
    value: str = ""
    exact: str = ""
    table: list[Row] | None = None
    bars: list[Bar] | None = None
    items: list[str] | None = None
    anchor: str = ""  # a link to another section of the page (the data-quality block)


def count(n: int) -> str:
    """12,345 (what the stats of every stage are: whole numbers)."""
    return f"{n:,}"


def size(n: float) -> str:
    """939 B, 917.4 KiB, 1.5 MiB, 2.0 GiB, 1.2 TiB (binary units, as `ls -h` shows them)."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:,.1f} TiB"


def rate(per_second: float) -> str:
    return _("%(n)s pages/s") % {"n": f"{per_second:,.1f}" if per_second < 100 else f"{per_second:,.0f}"}


def ratio(value: float) -> str:
    """0.0123 -> 1.23%, 0.5 -> 50.0%, 1 -> 100%."""
    pct = value * 100
    if pct in (0, 100):
        return f"{pct:.0f}%"
    return f"{pct:.2f}%" if abs(pct) < 10 else f"{pct:.1f}%"


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


FORMAT: dict[str, Callable[[Any], str]] = {BYTES: size, SECONDS: human, RATE: rate, RATIO: ratio}
EXACT: dict[str, Callable[[Any], str]] = {
    BYTES: lambda n: _("%(n)s bytes") % {"n": f"{n:,}"},
    SECONDS: lambda s: f"{s:,.3f} s",
    RATE: lambda r: f"{r:,}",
    RATIO: lambda r: f"{r}",
}


def bars(counts: dict[str, int], key: str) -> list[Bar]:
    """Counts as bars, largest first (ties by name), the longest BAR_WIDTH px; past MAX_BARS one 'N other'."""
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))
    shown = ranked if len(ranked) <= MAX_BARS else ranked[: MAX_BARS - 1]
    rest = ranked[len(shown):]
    total = sum(counts.values())
    top = max((n for _, n in ranked), default=0)
    status = key.endswith("_by_status")

    def bar(label: str, n: int, css: str) -> Bar:
        width = round(BAR_WIDTH * n / top) if top else 0
        return Bar(label, count(n), ratio(n / total) if total else "—", max(width, 1 if n else 0), css)

    out = [bar(str(name), n, _status_css(str(name)) if status else "hbar-reason") for name, n in shown]
    if rest:
        out.append(bar(_("%(n)s others") % {"n": count(len(rest))}, sum(n for _, n in rest), "hbar-other"))
    return out


def _status_css(code: str) -> str:
    return f"hbar-{code[0]}xx" if len(code) == 3 and code.isdigit() and "1" <= code[0] <= "5" else "hbar-reason"


def rows(stats: dict[str, Any], quality_anchor: str = "", depth: int = 0) -> list[Row]:
    """The rows of a stats object: known keys first, in KNOWN's order, then the others as stored."""
    order = {key: i for i, key in enumerate(KNOWN)}
    keys = sorted(stats, key=lambda k: order.get(k, len(order)))  # stable: the others keep their order
    return [row(str(key), stats[key], quality_anchor if depth == 0 else "", depth) for key in keys]


def row(key: str, value: Any, quality_anchor: str = "", depth: int = 0) -> Row:
    """One stat as a Row (see the module's docstring for the rules)."""
    label, kind = KNOWN.get(key, (key, ""))
    label = str(label)
    if key == "quality" and quality_anchor and isinstance(value, dict):
        verdict = str(value.get("verdict") or "ok")
        return Row(key, label, TEXT, value=verdict, anchor=quality_anchor)
    if value is None:
        return Row(key, label, TEXT, value="—")
    if isinstance(value, bool):
        return Row(key, label, FLAG, value=_("yes") if value else _("no"))
    if _number(value):
        kind = kind if kind in FORMAT or kind == COUNT else (COUNT if _whole(value) else "number")
        if kind in FORMAT:
            return Row(key, label, kind, value=FORMAT[kind](value), exact=EXACT[kind](value))
        return Row(key, label, kind, value=count(value) if _whole(value) else f"{value:,}")
    if isinstance(value, str):
        return Row(key, label, TEXT, value=value[:MAX_TEXT] + ("…" if len(value) > MAX_TEXT else ""))
    if isinstance(value, list) and all(isinstance(v, str | int | float) and not isinstance(v, bool) for v in value):
        return Row(key, label, "list", items=[str(v)[:MAX_TEXT] for v in value])
    if isinstance(value, dict) and depth < MAX_DEPTH:
        if "_by_" in key and value and all(_whole(v) and v >= 0 for v in value.values()):
            return Row(key, label, "bars", value=count(sum(value.values())), bars=bars(value, key))
        if not value:
            return Row(key, label, TEXT, value=_("none"))
        return Row(key, label, "table", table=rows(value, depth=depth + 1))
    text = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return Row(key, label, "json", value=text[:MAX_TEXT] + ("…" if len(text) > MAX_TEXT else ""))


def stat_rows(text: str | None, quality_anchor: str = "") -> list[Row] | None:
    """The rows of a run's stored stats: [] for none, None for text that is no JSON object (shown as it is).

    quality_anchor: the id of the page's data-quality section, when it shows the `quality` report.
    """
    data = stored_object(text)
    return None if data is None else rows(data, quality_anchor)
