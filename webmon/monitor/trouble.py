"""The overview's schedule states, next runs and order of trouble (Healthchecks' dashboard, for crawls).

Pure functions of rows already read, the clock passed in. A crawl row gets the
state of its RunCrawl schedules (the worst of them when it has several) and
their earliest next run; rows and the other schedules (backups, pruning, user
workflows) are put into groups, worst first:

    down, late, failing (the newest tick failed or went stale), running, up, paused, other

and sorted by group, then by name. The counts line names how many rows each group has.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from webmon.history.runs import STALE
from webmon.history.ticks import BAD, RUNNING
from webmon.monitor.templatetags.monitor import STATE_BADGE, status_label
from webmon.scheduling.models import Schedule

DOWN, LATE, FAILING, UP, PAUSED, OTHER = "down", "late", "failing", "up", "paused", "other"
GROUPS = (DOWN, LATE, FAILING, RUNNING, UP, PAUSED, OTHER)  # the overview's order, worst first
# Of several schedules of one crawl, the one shown is the first of these (paused only when all are).
WORST_FIRST = (Schedule.DOWN, Schedule.LATE, Schedule.UP, Schedule.NEW, Schedule.PAUSED)
FAILING_STATUSES = (*BAD, STALE)


@dataclass(frozen=True)
class ScheduleLine:
    """One schedule as the overview shows it."""

    pk: int
    name: str
    task: str
    crawl: str
    state: str
    next_run: datetime | None  # None: paused, or no tick to come
    last_success: datetime | None
    is_crawl: bool  # a RunCrawl schedule naming a crawl: shown on that crawl's row

    @classmethod
    def of(cls, schedule: Schedule, now: datetime) -> ScheduleLine:
        # Enabled unticked in the admin fires no tick either: shown as paused, as the schedules page does.
        state = schedule.state if schedule.enabled else Schedule.PAUSED
        return cls(schedule.pk, schedule.name, schedule.task, schedule.crawl, state,
                   schedule.next_run(now), schedule.last_success, schedule.is_crawl and bool(schedule.crawl))

    @property
    def badge(self) -> str:
        return STATE_BADGE.get(self.state, "")

    @property
    def group(self) -> str:
        return group_of(self.state, "")

    @property
    def paused(self) -> bool:
        return self.state == Schedule.PAUSED


@dataclass(frozen=True)
class CrawlSchedules:
    """The schedules of one crawl: the state shown (the worst), the earliest next run."""

    lines: tuple[ScheduleLine, ...]

    @property
    def state(self) -> str:
        return worst_state(line.state for line in self.lines)

    @property
    def badge(self) -> str:
        return STATE_BADGE.get(self.state, "")

    @property
    def paused(self) -> bool:
        return self.state == Schedule.PAUSED

    @property
    def next_run(self) -> datetime | None:
        return min((line.next_run for line in self.lines if line.next_run is not None), default=None)

    @property
    def only(self) -> ScheduleLine | None:
        return self.lines[0] if len(self.lines) == 1 else None

    @property
    def title(self) -> str:
        """What the badge's tooltip says: the schedule, or which of several is shown and what each is."""
        each = _(", ").join(f"{line.name} {status_label(line.state)}" for line in self.lines)
        if len(self.lines) == 1:
            return _("schedule %(schedule)s") % {"schedule": each}
        return ngettext("the worst of %(n)d schedule: %(each)s", "the worst of %(n)d schedules: %(each)s",
                        len(self.lines)) % {"n": len(self.lines), "each": each}


def worst_state(states: Iterable[str]) -> str:
    """The state shown for several schedules: down before late before up before new; paused only if all are."""
    present = set(states)
    return next((state for state in WORST_FIRST if state in present), "")


def group_of(schedule_state: str, last_status: str) -> str:
    """The overview's group of a row, from its schedule state ("" when none) and its newest tick's status."""
    if schedule_state in (Schedule.DOWN, Schedule.LATE):
        return schedule_state
    if last_status in FAILING_STATUSES:
        return FAILING
    if last_status == RUNNING:
        return RUNNING
    if schedule_state in (Schedule.UP, Schedule.PAUSED):
        return schedule_state
    return OTHER


def by_trouble(items: Sequence[Any], group: Any, name: Any) -> list[Any]:
    """`items` sorted by group (GROUPS' order), then by name."""
    return sorted(items, key=lambda item: (GROUPS.index(group(item)), name(item)))


def schedules_of_crawls(lines: Iterable[ScheduleLine]) -> dict[str, CrawlSchedules]:
    """The RunCrawl schedules of each crawl (a schedule's crawl field names it)."""
    by_crawl: dict[str, list[ScheduleLine]] = {}
    for line in lines:
        by_crawl.setdefault(line.crawl, []).append(line)
    return {crawl: CrawlSchedules(tuple(sorted(found, key=lambda line: line.name))) for crawl, found in by_crawl.items()}


def attach_schedules(rows: Sequence[Any], schedules: dict[str, CrawlSchedules]) -> list[Any]:
    """Each crawl row (summaries.CrawlRow) with its schedules, next run and group, in the overview's order."""
    for row in rows:
        row.schedules = schedules.get(row.name)
        row.next_run = row.schedules.next_run if row.schedules else None
        row.group = group_of(row.schedules.state if row.schedules else "", row.last_status)
    return by_trouble(rows, lambda row: row.group, lambda row: row.name)


@dataclass(frozen=True)
class GroupCount:
    group: str
    count: int

    @property
    def label(self) -> str:
        """"2 down", "1 failing" in the active language."""
        labels = {
            DOWN: ngettext("%(n)d down", "%(n)d down", self.count),
            LATE: ngettext("%(n)d late", "%(n)d late", self.count),
            FAILING: ngettext("%(n)d failing", "%(n)d failing", self.count),
            RUNNING: ngettext("%(n)d running", "%(n)d running", self.count),
            UP: ngettext("%(n)d up", "%(n)d up", self.count),
            PAUSED: ngettext("%(n)d paused", "%(n)d paused", self.count),
            OTHER: ngettext("%(n)d other", "%(n)d other", self.count),
        }
        return labels[self.group] % {"n": self.count}

    @property
    def badge(self) -> str:
        """The monitor.css status-* class of the group's colour."""
        return {DOWN: "failed", LATE: "stale", FAILING: "failed", RUNNING: "running", UP: "done"}.get(self.group, "")


def group_counts(groups: Iterable[str]) -> list[GroupCount]:
    """How many rows each group has, worst first; groups without rows are left out."""
    counts = dict.fromkeys(GROUPS, 0)
    for group in groups:
        counts[group] += 1
    return [GroupCount(group, n) for group, n in counts.items() if n]
