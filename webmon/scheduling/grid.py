"""A schedule's grid, as Airflow draws one: a column per tick, a row per task, a cell per task run.

Columns are the schedule's newest ticks (ScheduledRun rows, webmon's DB),
oldest on the left, with keyset "older ticks" paging. Rows are the tasks that
ran for those ticks: the workers record each run's ScheduledRun
(CRAWLOPS_SCHEDULED_RUN) in crawl_run_deps, read with one query for the whole
page (webmon/history/deps.py); the requirements that did not run for a tick
(complete already) are looked up in one more query, their newest runs.

A row is a task without its tick: its family plus its parameters other than
`at` and `date` (the tick parameters of the contract), so RunCrawl(shop) and
RunCrawl(books) of one workflow are two rows, and the same task of every tick
is one. Rows are in the order the tasks run (requirements first).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from webmon.history.deps import TickRun, latest_runs, tick_runs
from webmon.history.queries import collector_paused
from webmon.monitor.clock import Clock
from webmon.monitor.dag import tail_of
from webmon.monitor.rungraph import run_link
from webmon.monitor.sources import Sources
from webmon.monitor.templatetags.monitor import status_label, time_text
from webmon.scheduling.models import Schedule, ScheduledRun

TICKS = 30  # columns per page
MAX_ROWS = 200
TICK_PARAMS = ("at", "date")
LABEL_PARAMS = 60  # characters of a row's parameters shown

RowKey = tuple[str, str]  # (family, JSON of the parameters other than the tick's)


@dataclass(frozen=True)
class Cell:
    state: str  # css key: done failed running killed stale elsewhere not-run
    title: str
    run_id: int | None
    href: str | None = None  # the run page (made in Python: a page has thousands of cells)

    @property
    def html(self) -> SafeString:
        """The cell's <td>, escaped here: a template tag per cell cost more than the page's queries."""
        if self.href:
            return format_html('<td class="cell cell-{0}" data-state="{0}" title="{1}"><a href="{2}" '
                               'aria-label="{1}"></a></td>', self.state, self.title, self.href)
        return format_html('<td class="cell cell-{0}" data-state="{0}" title="{1}"></td>', self.state, self.title)


@dataclass(frozen=True)
class Row:
    key: RowKey
    family: str
    params: str
    cells: list[Cell]


@dataclass(frozen=True)
class Grid:
    ticks: list[ScheduledRun]
    rows: list[Row]
    more_rows: int


def row_key(family: str, params: str | None) -> RowKey:
    """The task without its tick; parameters that are not a JSON object are kept whole."""
    try:
        data = json.loads(params or "{}")
    except ValueError:
        return family, params or ""
    if not isinstance(data, dict):
        return family, params or ""
    return family, json.dumps({k: v for k, v in data.items() if k not in TICK_PARAMS}, sort_keys=True)


def _label(params: str) -> str:
    try:
        data = json.loads(params)
    except ValueError:
        return params[:LABEL_PARAMS]
    if not isinstance(data, dict):
        return params[:LABEL_PARAMS]
    text = ", ".join(f"{k}={v}" for k, v in data.items())
    return text if len(text) <= LABEL_PARAMS else text[: LABEL_PARAMS - 1] + "…"


def build(
    ticks: Sequence[ScheduledRun],
    runs: Iterable[TickRun],
    elsewhere: Mapping[str, Any],
    clock: Clock,
    link: Callable[[int], str] = lambda run_id: f"/runs/{run_id}/",
) -> Grid:
    """The grid of `ticks` (oldest first) from their runs and the newest runs of requirements that did not run."""
    by_task: dict[str, RowKey] = {}
    latest: dict[tuple[RowKey, int], Any] = {}
    required: dict[tuple[RowKey, int], Any] = {}
    families: dict[RowKey, str] = {}
    edges: set[tuple[RowKey, RowKey]] = set()
    runs = list(runs)
    keys_of: dict[tuple[str, str], RowKey] = {}  # tasks without tick parameters repeat their parameters
    for run in list(elsewhere.values()) + [r.run for r in runs]:
        key = keys_of.get((run.family, run.params))
        if key is None:
            key = keys_of[(run.family, run.params)] = row_key(run.family, run.params)
        by_task[run.task_id] = key
        families[key] = run.family
    for tick_run in runs:
        run = tick_run.run
        key = by_task[run.task_id]
        seen = latest.get((key, tick_run.scheduled_run))
        if seen is None or (run.started_at, run.id) > (seen.started_at, seen.id):
            latest[(key, tick_run.scheduled_run)] = run
        for req in tick_run.requires:
            dep_key = by_task.get(req.task_id) or (req.family, f"task {tail_of(req.task_id, req.family)}")
            families.setdefault(dep_key, req.family)
            edges.add((key, dep_key))
            required[(dep_key, tick_run.scheduled_run)] = elsewhere.get(req.task_id)
    keys = _run_order(list(families), edges)
    rows = []
    for key in keys[:MAX_ROWS]:
        label = _label(key[1]) if not key[1].startswith("task ") else key[1]
        cells = [_cell(key, label, tick, latest, required, clock, link) for tick in ticks]
        rows.append(Row(key, families[key], label, cells))
    return Grid(list(ticks), rows, max(len(keys) - MAX_ROWS, 0))


def _cell(
    key: RowKey,
    label: str,
    tick: ScheduledRun,
    latest: Mapping[tuple[RowKey, int], Any],
    required: Mapping[tuple[RowKey, int], Any],
    clock: Clock,
    link: Callable[[int], str],
) -> Cell:
    name = f"{key[0]} {label}".strip()
    where = {"task": name, "at": time_text(tick.logical_time, "min", zone=False)}
    run = latest.get((key, tick.pk))
    if run is not None:
        status = run.display_status(clock.now, clock.stale_after)
        return Cell(status, _("%(task)s @ %(at)s: %(status)s") % {**where, "status": status_label(status)}, run.id,
                    link(run.id))
    if (key, tick.pk) in required:
        other = required[(key, tick.pk)]
        if other is not None and other.status == "done":
            text = _("%(task)s @ %(at)s: complete already (done in run #%(run)s)") % {**where, "run": other.id}
            return Cell("elsewhere", text, other.id, link(other.id))
        if other is not None:
            return Cell("not-run", _("%(task)s @ %(at)s: required, not run") % where, other.id, link(other.id))
        return Cell("not-run", _("%(task)s @ %(at)s: required, not run") % where, None)
    return Cell("not-run", _("%(task)s @ %(at)s: not run") % where, None)


def _run_order(keys: list[RowKey], edges: set[tuple[RowKey, RowKey]]) -> list[RowKey]:
    """Requirements before the tasks needing them: by longest chain of requirements, then by name."""
    below: dict[RowKey, set[RowKey]] = {k: set() for k in keys}
    for requirer, dep in edges:
        if requirer != dep:
            below[requirer].add(dep)
    level = {k: 0 for k in keys}
    for _round in range(len(keys)):  # Bellman-Ford style: bounded even if a bad history has a cycle
        changed = False
        for k in keys:
            new = max((level[d] + 1 for d in below[k]), default=0)
            if new != level[k] and new <= len(keys):
                level[k], changed = new, True
        if not changed:
            break
    return sorted(keys, key=lambda k: (level[k], k))


@require_safe
def schedule_grid(request: HttpRequest, pk: int) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    schedule = get_object_or_404(Schedule, pk=pk)
    ticks_qs = schedule.runs.order_by("-logical_time", "-id")
    cursor = _cursor(request.GET.get("from", ""))
    if cursor is not None:  # keyset: this tick and the older ones
        ticks_qs = ticks_qs.filter(Q(logical_time__lt=cursor[0]) | Q(logical_time=cursor[0], id__lte=cursor[1]))
    page = list(ticks_qs[: TICKS + 1])
    older = page[TICKS] if len(page) > TICKS else None
    ticks = page[:TICKS][::-1]  # oldest on the left
    with collector_paused():  # up to 5,000 rows and their cells: freed by refcount, not worth a heap walk
        runs = sources.history(lambda: tick_runs([t.pk for t in ticks]), [])
        ran = {r.run.task_id for r in runs}
        wanted = list(dict.fromkeys(q.task_id for r in runs for q in r.requires if q.task_id not in ran))[:MAX_ROWS]
        elsewhere = sources.history(lambda: latest_runs(wanted), {}) if wanted else {}
        grid = build(ticks, runs, elsewhere, clock, run_link())
    return render(
        request,
        "scheduling/grid.html",
        {
            "clock": clock,
            "schedule": schedule,
            "grid": grid,
            "older": _cursor_text(older) if older else None,
            "paged": cursor is not None,
            "banners": sources.banners,
        },
    )


def _cursor_text(run: ScheduledRun) -> str:
    return f"{int(run.logical_time.timestamp())}.{run.pk}"


def _cursor(text: str) -> tuple[datetime, int] | None:
    seconds, _, pk = text.partition(".")
    if not (seconds.isdigit() and pk.isdigit()) or len(seconds) > 12:
        return None
    return datetime.fromtimestamp(int(seconds), tz=UTC), int(pk)
