"""The parts of the run detail page, from rows already read: the chain, the event window, the log page."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from webmon.history.runs import levels_at_least
from webmon.history.ticks import RUNNING, chain_stages, end_of, latest_per_family
from webmon.monitor.charts import Gantt, gantt
from webmon.monitor.clock import Clock
from webmon.monitor.templatetags.monitor import human, status_label, time_text, zone_label

LOG_PAGE = 1000  # log lines per page and per poll
LINE_HEAD = 2000  # characters of a log line shown before "show full line"
EVENTS_BEFORE = timedelta(hours=6)  # how far before its start a first attempt's events may be
EVENTS_AFTER = timedelta(minutes=1)
ZERO = timedelta(0)


NODE_WIDTH, NODE_GAP = 190, 56


@dataclass(frozen=True)
class ChainNode:
    """A box of the chain graph."""

    family: str
    status: str
    x: int
    arrow_x: int  # where the arrow to the next box starts
    run_id: int | None
    duration: str


@dataclass
class Chain:
    nodes: list[ChainNode]
    width: int
    gantt: Gantt
    tick_started: datetime | None
    tick_duration: str


def chain(attempts: Sequence[Any], clock: Clock) -> Chain | None:
    """fetch -> parse -> store of the run's tick: boxes of the latest attempt of each, Gantt bars of every attempt."""
    stages = chain_stages(latest_per_family(attempts))
    if all(stage.run is None for stage in stages):
        return None
    rows, nodes = [], []
    for i, stage in enumerate(stages):
        run = stage.run
        x = i * (NODE_WIDTH + NODE_GAP)
        tries = sorted((a for a in attempts if a.family == stage.family), key=lambda a: (a.started_at, a.id))
        rows.append((stage.family, [_gantt_span(a, len(tries), clock) for a in tries]))
        if run is None:
            nodes.append(ChainNode(stage.family, stage.status, x, x + NODE_WIDTH, None, _("not run")))
            continue
        took = human((end_of(run, clock.now) - run.started_at).total_seconds())
        nodes.append(ChainNode(stage.family, stage.status, x, x + NODE_WIDTH, run.id, took))
    ran = [stage.run for stage in stages if stage.run is not None]
    start = min(r.started_at for r in ran)
    total = max(end_of(r, clock.now) for r in ran) - start
    width = len(nodes) * NODE_WIDTH + (len(nodes) - 1) * NODE_GAP
    running = any(r.status == RUNNING for r in ran)
    return Chain(nodes, width, gantt(rows, now=clock.now if running else None), start, human(total.total_seconds()))


def _gantt_span(run: Any, tries: int, clock: Clock) -> tuple[str, datetime, datetime, str, str]:
    """A Gantt bar: "FetchPages: 2026-03-01 12:00:01 → 12:03:12 UTC (3 min 11 s), done" (", attempt n" when it has several)."""
    end = end_of(run, clock.now)
    local_start, local_end = timezone.localtime(run.started_at), timezone.localtime(end)
    values = {
        "task": run.family if tries == 1 else _("%(task)s, attempt %(n)s") % {"task": run.family, "n": run.attempt},
        "start": time_text(run.started_at, zone=False),
        "end": (local_end.strftime("%H:%M:%S") if local_end.date() == local_start.date()
                else time_text(end, zone=False)) + f" {zone_label(local_end)}",
        "duration": human((end - run.started_at).total_seconds()),
        "status": status_label(run.status),
    }
    if run.status == RUNNING and run.finished_at is None:
        title = _("%(task)s: %(start)s → now (%(duration)s so far), %(status)s") % values
    else:
        title = _("%(task)s: %(start)s → %(end)s (%(duration)s), %(status)s") % values
    return run.status, run.started_at, end, title, reverse("monitor:run", args=[run.id])


def event_window(run: Any, attempts: Sequence[Any], clock: Clock) -> tuple[datetime, datetime]:
    """The instants between which the luigi task's events belong to this attempt.

    luigid hears of an outcome a moment after the worker recorded it, and a
    retry is scheduled (PENDING) a moment before it starts: the border with a
    neighbouring attempt is halfway between them, at most EVENTS_AFTER away.
    """
    same_task = sorted((a for a in attempts if a.task_id == run.task_id), key=lambda a: (a.started_at, a.id))
    earlier = [a for a in same_task if (a.started_at, a.id) < (run.started_at, run.id)]
    later = [a for a in same_task if (a.started_at, a.id) > (run.started_at, run.id)]
    if earlier:
        previous_end = end_of(earlier[-1], clock.now)
        since = previous_end + min(EVENTS_AFTER, max(run.started_at - previous_end, ZERO) / 2)
    else:
        since = run.started_at - EVENTS_BEFORE
    end = end_of(run, clock.now)
    until = end + EVENTS_AFTER
    if later:
        until = end + min(EVENTS_AFTER, max(later[0].started_at - end, ZERO) / 2)
    return since, until


@dataclass
class LogView:
    level: str
    q: str
    after: int
    levels: list[str] | None

    @classmethod
    def of(cls, run: Any, level: str, q: str, after: int | None) -> LogView:
        if after is None:  # a running run opens on its newest lines, a finished one on its first
            after = max(run.log_count - LOG_PAGE, 0) if run.is_running else 0
        return cls(level, q, after, levels_at_least(level) if level else None)


def log_count_texts() -> dict[str, str]:
    """The log heading's "N line(s)" in the page's language, with {n} for the number, for monitor.js.

    The same messages as the heading's blocktranslate, so the count reads the same once it is updated.
    """
    return {form: ngettext("%(n)s line", "%(n)s lines", many) % {"n": "{n}"} for form, many in (("one", 1), ("other", 2))}
