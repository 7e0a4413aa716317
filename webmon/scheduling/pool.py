"""What the trigger daemons say about each worker host: the Workers page's daemon part.

Two bounded reads of the webmon DB, grouped by host in Python:

- the heartbeat rows that beat since a time, newest beat first, at most
  `cap`: a daemon stopped cleanly deletes its row (Trigger.run_forever), a
  crashed one's stays, shown lost until it is older than the window;
- the scheduled runs now running, newest start first, at most `cap`, with
  their schedule's name (one join; index on (state, not_before)): each under
  the daemon that claimed it, also when that daemon's row is not read.

A daemon's name is "<host>:<pid>" (Trigger.name): the host is what comes
before the last colon, the same rule as Trigger._take_over.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from webmon.scheduling.models import DaemonHeartbeat, ScheduledRun

# Trigger.stale_after: a daemon silent this long has stopped (its host's next daemon adopts its runs).
# An idle daemon beats at least every --idle-sleep (1 s), a busy one every round.
SILENT_AFTER = timedelta(seconds=30)
UP, SILENT, LOST = "up", "silent", "lost"


def host_of(name: str) -> str:
    return name.rsplit(":", 1)[0]


def pid_of(name: str) -> str:
    return name.rsplit(":", 1)[1] if ":" in name else ""


def daemon_state(beat_at: datetime | None, now: datetime, lost_after: timedelta) -> str:
    """up (beat within SILENT_AFTER), silent, or lost (no beat for `lost_after`: TRIGGER_HOST_LOST_S)."""
    if beat_at is None or now - beat_at > lost_after:
        return LOST
    return SILENT if now - beat_at > SILENT_AFTER else UP


def usage(running: int, slots: int | None) -> str:
    """Like "runs 2 of 3 slots"; slots 0 is no limit, None unknown (a daemon known only from its runs)."""
    if slots is None:
        return _("runs %(n)d") % {"n": running}
    if slots == 0:
        return _("runs %(n)d, no slot limit") % {"n": running}
    return ngettext("runs %(n)d of %(slots)d slot", "runs %(n)d of %(slots)d slots", slots) % {
        "n": running, "slots": slots}


@dataclass(frozen=True)
class RunningTick:
    """A scheduled run in state running, as few columns as the page needs."""

    id: int
    schedule_id: int
    schedule_name: str
    logical_time: datetime
    started_at: datetime | None
    claimed_by: str
    pid: int | None
    attempts: int


@dataclass
class DaemonSeen:
    """One trigger daemon: its heartbeat row (None when not read: gone, or older than the window)."""

    name: str
    state: str
    started_at: datetime | None = None
    beat_at: datetime | None = None
    slots: int | None = None  # 0: no limit; None: no row read
    runs: list[RunningTick] = field(default_factory=list)

    @property
    def host(self) -> str:
        return host_of(self.name)

    @property
    def pid(self) -> str:
        return pid_of(self.name)

    @property
    def usage(self) -> str:
        return usage(len(self.runs), self.slots)


@dataclass(frozen=True)
class Pool:
    hosts: dict[str, list[DaemonSeen]]  # host -> its daemons, newest beat first (rows not read last)
    daemons_full: bool  # `cap` rows read: older daemons of the window were not
    runs_full: bool  # `cap` running runs read: older ones were not


RUN_FIELDS = ("id", "schedule_id", "schedule__name", "logical_time", "started_at", "claimed_by", "pid", "attempts")


def pool(now: datetime, since: datetime, lost_after: timedelta, cap: int) -> Pool:
    """The daemons that beat since `since` and the runs they run now: two queries."""
    rows = list(DaemonHeartbeat.objects.filter(beat_at__gte=since).order_by("-beat_at", "-id")
                .values_list("name", "started_at", "beat_at", "slots")[:cap])
    runs = [RunningTick(*row) for row in ScheduledRun.objects.filter(state=ScheduledRun.RUNNING)
            .order_by("-started_at", "-id").values_list(*RUN_FIELDS)[:cap]]
    daemons: dict[str, DaemonSeen] = {}
    for name, started_at, beat_at, slots in rows:
        daemons[name] = DaemonSeen(name, daemon_state(beat_at, now, lost_after), started_at, beat_at, slots)
    for run in runs:
        if not run.claimed_by:
            continue
        daemon = daemons.get(run.claimed_by)
        if daemon is None:
            daemon = daemons[run.claimed_by] = DaemonSeen(run.claimed_by, LOST)
        daemon.runs.append(run)
    hosts: dict[str, list[DaemonSeen]] = {}
    for daemon in daemons.values():  # rows first, in beat order; daemons known only from their runs after
        hosts.setdefault(daemon.host, []).append(daemon)
    return Pool(hosts, daemons_full=len(rows) >= cap, runs_full=len(runs) >= cap)
