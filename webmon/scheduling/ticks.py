"""Tick arithmetic: when a schedule falls due. Pure functions, the clock passed in.

A schedule fires at the ticks of a cron expression read in an IANA timezone,
or every fixed interval from its start. Cron follows cron's own DST rules
(cronsim): a time that does not exist on the spring-forward day fires at the
first minute after the gap; a daily time inside the repeated hour of the
fall-back day fires once; minute-level schedules fire in both copies of that
hour, because both are real minutes. Ticks are returned as aware UTC
datetimes, whole minutes (RunCrawl's `at`).

Catch-up policies decide what happens to ticks that fell due while nothing
was firing (the daemon was down, the schedule was paused):
- "all": every missed tick fires, oldest first (bounded by `limit`);
- "latest": only the newest due tick fires; older ones are skipped as missed;
- "none": the newest due tick fires only if it is younger than the grace
  period; everything else is skipped as missed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

CATCHUP_POLICIES = ("none", "latest", "all")
UTC = UTC


def cron_error(expr: str) -> str | None:
    """Why `expr` is not a valid 5-field cron expression, or None."""
    if len(expr.split()) != 5:
        return f"expected 5 fields (minute hour day month weekday), got {len(expr.split())}"
    try:
        CronSim(expr, datetime(2000, 1, 1, tzinfo=UTC))
    except CronSimError as exc:
        return str(exc) or "not a cron expression"
    return None


def timezone_error(name: str) -> str | None:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return f"unknown timezone {name!r}; expected an IANA name such as Europe/Berlin"
    return None


@dataclass(frozen=True)
class Cadence:
    """When a schedule fires: cron in a timezone, or an interval from `start`."""

    start: datetime
    cron: str | None = None
    tz: str = "UTC"
    interval: timedelta | None = None
    end: datetime | None = None

    def __post_init__(self) -> None:
        if (self.cron is None) == (self.interval is None):
            raise ValueError("a cadence has either a cron expression or an interval")
        if self.start.tzinfo is None or (self.end is not None and self.end.tzinfo is None):
            raise ValueError("start and end must be aware datetimes")


def _minute(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(second=0, microsecond=0)


def iter_ticks(cadence: Cadence, after: datetime) -> Iterator[datetime]:
    """Ticks strictly after `after` (and not before start, not after end), aware UTC."""
    after = max(after, cadence.start - timedelta(microseconds=1))
    if cadence.interval is not None:
        step = cadence.interval
        count = max(0, (after - cadence.start) // step + 1) if after >= cadence.start else 0
        tick = cadence.start + step * count
        while cadence.end is None or tick <= cadence.end:
            if tick > after:
                yield _minute(tick)
            tick += step
        return
    assert cadence.cron is not None
    local = after.astimezone(ZoneInfo(cadence.tz))
    for tick in CronSim(cadence.cron, local):
        if cadence.end is not None and tick > cadence.end:
            return
        yield tick.astimezone(UTC)


def next_ticks(cadence: Cadence, after: datetime, n: int) -> list[datetime]:
    ticks = []
    for tick in iter_ticks(cadence, after):
        ticks.append(tick)
        if len(ticks) >= n:
            break
    return ticks


def ticks_between(cadence: Cadence, after: datetime, until: datetime, limit: int = 10_000) -> list[datetime]:
    """Ticks t with after < t <= until, oldest first, at most `limit` (the newest kept)."""
    ticks: list[datetime] = []
    for tick in iter_ticks(cadence, after):
        if tick > until:
            break
        ticks.append(tick)
        if len(ticks) > limit:
            ticks.pop(0)
    return ticks


@dataclass(frozen=True)
class Due:
    fire: list[datetime]    # ticks to run now, oldest first
    missed: list[datetime]  # ticks to record as skipped (missed)


def due_ticks(cadence: Cadence, last_tick: datetime | None, now: datetime, catchup: str,
              grace: timedelta, limit: int = 1000) -> Due:
    """What to do with the ticks that fell due after `last_tick` up to `now`."""
    if catchup not in CATCHUP_POLICIES:
        raise ValueError(f"unknown catch-up policy {catchup!r}")
    after = last_tick if last_tick is not None else cadence.start - timedelta(microseconds=1)
    due = ticks_between(cadence, after, now, limit=limit)
    if not due or catchup == "all":
        return Due(due, [])
    newest, older = due[-1], due[:-1]
    if catchup == "none" and now - newest > grace:
        return Due([], due)
    return Due([newest], older)
