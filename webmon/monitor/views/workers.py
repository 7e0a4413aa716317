"""Workers: each worker host, its trigger daemons and luigid workers, what they run now, when it was last seen.

Three sources: the trigger daemons' heartbeats and the scheduled runs they
run now (webmon's own DB: webmon.scheduling.pool), and, each under its own
banner, luigid's worker_list (the workers it knows now: it forgets one
[scheduler] worker_disconnect_delay after its last word) and our run records
of the last 24 hours (webmon.history.hosts), so a host luigid has forgotten
still shows when its runs last showed it alive. A task luigid says is running
links to its run here when a run record of that task_id is still marked
running, else to Luigi's tasks list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from webmon.history import hosts as run_hosts
from webmon.monitor import luigid
from webmon.monitor.clock import Clock
from webmon.monitor.sources import Sources
from webmon.monitor.templatetags.monitor import host_anchor
from webmon.scheduling import pool as daemon_pool

RUNS_SINCE = timedelta(hours=24)
RUN_WINDOW = 5000  # newest runs of the last 24 h read for the per-host counts (no index on host)
RUNNING_CAP = 1000  # runs still marked running read (stale ones included)
DAEMON_CAP = 200  # heartbeat rows of the last 24 h read, newest beat first; as many running scheduled runs
STATUS_ORDER = ("running", "stale", "done", "failed", "killed")


@dataclass(frozen=True)
class RunningTaskRow:
    task: luigid.RunningTask
    run: run_hosts.RunSeen | None  # the run record still marked running for this task_id


@dataclass(frozen=True)
class WorkerRow:
    worker: luigid.LuigiWorker
    running: list[RunningTaskRow]


@dataclass
class HostRow:
    name: str
    workers: list[WorkerRow] = field(default_factory=list)
    runs: run_hosts.HostRuns | None = None
    daemons: list[daemon_pool.DaemonSeen] = field(default_factory=list)

    @property
    def anchor(self) -> str:
        return host_anchor(self.name)

    @property
    def last_seen(self) -> datetime | None:
        times = [w.worker.last_seen for w in self.workers if w.worker.last_seen is not None]
        times += [d.beat_at for d in self.daemons if d.beat_at is not None]
        if self.runs is not None and self.runs.last_seen is not None:
            times.append(self.runs.last_seen)
        return max(times) if times else None

    @property
    def lost(self) -> bool:
        """Every daemon of the host is lost (its runs are queued again once their records stop beating)."""
        return bool(self.daemons) and all(d.state == daemon_pool.LOST for d in self.daemons)

    @property
    def slots(self) -> str:
        """What the host's daemons that are up run: "runs 2 of 3 slots"."""
        up = [d for d in self.daemons if d.state == daemon_pool.UP]
        if not up:
            return _("no daemon up")
        running = sum(len(d.runs) for d in up)
        slots = 0 if any(d.slots == 0 for d in up) else sum(d.slots or 0 for d in up)  # one without a limit: none
        return daemon_pool.usage(running, slots)

    @property
    def counts(self) -> list[tuple[str, int]]:
        counts = self.runs.counts if self.runs is not None else {}
        known = [(s, counts[s]) for s in STATUS_ORDER if s in counts]
        return known + sorted((s, n) for s, n in counts.items() if s not in STATUS_ORDER)


def host_rows(
    workers: list[luigid.LuigiWorker] | None, activity: run_hosts.RunActivity, pool: daemon_pool.Pool
) -> list[HostRow]:
    """Hosts of all sources, most recently seen first (then by name)."""
    rows: dict[str, HostRow] = {}
    for name, daemons in pool.hosts.items():
        rows.setdefault(name, HostRow(name)).daemons = daemons
    for worker in workers or []:
        running = [RunningTaskRow(t, activity.running_by_task.get(t.task_id)) for t in worker.running]
        rows.setdefault(worker.host, HostRow(worker.host)).workers.append(WorkerRow(worker, running))
    for name, runs in activity.hosts.items():
        rows.setdefault(name, HostRow(name)).runs = runs
    return sorted(rows.values(), key=lambda h: (h.last_seen is None, -h.last_seen.timestamp() if h.last_seen else 0, h.name))


def workers(request: HttpRequest) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    since = clock.now - RUNS_SINCE
    recent = sources.runs(lambda: run_hosts.recent_runs(since, RUN_WINDOW), [])
    running = sources.runs(lambda: run_hosts.running_runs(RUNNING_CAP), [])
    activity = run_hosts.activity(recent, running, RUN_WINDOW, clock.now, clock.stale_after)
    daemons = daemon_pool.pool(clock.now, since, timedelta(seconds=settings.TRIGGER_HOST_LOST_S), DAEMON_CAP)
    known = sources.luigid(luigid.workers, None)
    return render(
        request,
        "monitor/workers.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "hosts": host_rows(known, activity, daemons),
            "pool": daemons,
            "daemon_cap": DAEMON_CAP,
            "silent_after": daemon_pool.SILENT_AFTER,
            "lost_after": settings.TRIGGER_HOST_LOST_S,
            "luigid_answered": known is not None,
            "activity": activity,
            "run_window": RUN_WINDOW,
            "no_run_records": sources.no_run_records,
            "refresh_seconds": 30,
        },
    )
