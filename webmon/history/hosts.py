"""What the run records say about each worker host: the Workers page's history part.

crawl_runs has no index on host, so no read here filters or groups by it in
SQL. Two bounded reads through existing indexes, grouped in Python:

- the newest `window` runs started since a time, newest first, through
  (started_at): per host, counts by status and the newest activity. When
  the window is full the page says how far back it looked.
- the runs still marked running, newest heartbeat first, at most `cap`,
  through (status, heartbeat_at): hosts whose long runs started before the
  window, and the run record of each task luigid says is running.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from webmon.history.runs import CrawlRun
from webmon.history.ticks import RUNNING

FIELDS = ("id", "host", "task_id", "family", "status", "started_at", "finished_at", "heartbeat_at")
STALE = "stale"


@dataclass(frozen=True)
class RunSeen:
    """One run record, as few columns as the page needs."""

    id: int
    host: str
    task_id: str
    family: str
    status: str  # as stored
    started_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime

    @property
    def seen_at(self) -> datetime:
        """When this run last showed its host alive."""
        return max(t for t in (self.started_at, self.finished_at, self.heartbeat_at) if t is not None)

    def display_status(self, now: datetime, stale_after: timedelta) -> str:
        if self.status == RUNNING and now - self.heartbeat_at > stale_after:
            return STALE
        return self.status


@dataclass
class HostRuns:
    """A host as its run records show it."""

    host: str
    counts: dict[str, int] = field(default_factory=dict)  # display status -> runs in the window
    last_seen: datetime | None = None
    newest: RunSeen | None = None  # newest started run seen (window or running)


@dataclass(frozen=True)
class RunActivity:
    hosts: dict[str, HostRuns]
    running_by_task: dict[str, RunSeen]  # task_id -> its newest run still marked running
    window_full: bool  # the window held `window` runs: older runs of the period were not read
    oldest_read: datetime | None  # start of the oldest run read (when window_full, how far back)


def _rows(queryset: object) -> list[RunSeen]:
    return [RunSeen(*row) for row in queryset]


def recent_runs(since: datetime, window: int) -> list[RunSeen]:
    """The newest `window` runs started at or after `since` (index on started_at)."""
    return _rows(CrawlRun.objects.filter(started_at__gte=since).newest_first().values_list(*FIELDS)[:window])


def running_runs(cap: int) -> list[RunSeen]:
    """Runs still marked running, newest heartbeat first (index on status, heartbeat_at)."""
    return _rows(CrawlRun.objects.filter(status=RUNNING).order_by("-heartbeat_at", "-id").values_list(*FIELDS)[:cap])


def activity(
    recent: list[RunSeen], running: list[RunSeen], window: int, now: datetime, stale_after: timedelta
) -> RunActivity:
    """Group both reads by host (pure: the reads are done by the caller, each under its banner)."""
    hosts: dict[str, HostRuns] = {}

    def seen(run: RunSeen) -> HostRuns:
        host = hosts.setdefault(run.host, HostRuns(run.host))
        if host.last_seen is None or run.seen_at > host.last_seen:
            host.last_seen = run.seen_at
        if host.newest is None or (run.started_at, run.id) > (host.newest.started_at, host.newest.id):
            host.newest = run
        return host

    for run in recent:
        host = seen(run)
        status = run.display_status(now, stale_after)
        host.counts[status] = host.counts.get(status, 0) + 1
    running_by_task: dict[str, RunSeen] = {}
    for run in running:
        seen(run)
        best = running_by_task.get(run.task_id)
        if best is None or (run.started_at, run.id) > (best.started_at, best.id):
            running_by_task[run.task_id] = run
    return RunActivity(
        hosts=hosts,
        running_by_task=running_by_task,
        window_full=len(recent) >= window,
        oldest_read=recent[-1].started_at if recent else None,
    )
