"""Schedule metrics from the webmon DB.

A scrape reads every schedule (one row per schedule), the count of queued
runs whose time has come (the `(state, not_before)` index), the newest daemon
heartbeat, and the ended-run totals that folding.py keeps incrementally.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from cronsim import CronSimError
from django.db import DatabaseError
from django.db.models import Max, Q
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.utils import floatToGoString

from webmon.metrics import folding
from webmon.metrics.models import DELAY_BUCKETS
from webmon.scheduling.models import DaemonHeartbeat, Schedule, ScheduledRun
from webmon.scheduling.ticks import Cadence, iter_ticks

STATES = (Schedule.NEW, Schedule.UP, Schedule.LATE, Schedule.DOWN, Schedule.PAUSED)
WEEK = timedelta(days=7)


def families(now: datetime, error: Callable[[str], None]) -> list[Metric]:
    schedules = list(Schedule.objects.order_by("name").values(
        "id", "name", "crawl", "state", "next_due", "cron", "timezone", "interval_seconds", "grace_seconds"))
    state = GaugeMetricFamily("crawl_schedule_state", "1 for the schedule's current state, 0 for the others.",
                              labels=["schedule", "crawl", "state"])
    next_due = GaugeMetricFamily("crawl_schedule_next_due_timestamp_seconds", "When the schedule's next tick falls "
                                 "due (none while it has no next tick).", labels=["schedule", "crawl"])
    max_age = GaugeMetricFamily("crawl_schedule_max_age_seconds", "How old the crawl's last success may be: the "
                                "cadence's longest gap between ticks (over the next week, for cron) plus grace.",
                                labels=["schedule", "crawl"])
    for s in schedules:
        labels = [s["name"], s["crawl"]]
        for name in STATES:
            state.add_metric([*labels, name], 1 if s["state"] == name else 0)
        if s["next_due"] is not None:
            next_due.add_metric(labels, s["next_due"].timestamp())
        period = cadence_period(s["cron"], s["timezone"], s["interval_seconds"], now)
        if period is not None:
            max_age.add_metric(labels, period + s["grace_seconds"])
    queued = ScheduledRun.objects.filter(state=ScheduledRun.QUEUED).filter(
        Q(not_before__isnull=True) | Q(not_before__lte=now)).count()
    beat = DaemonHeartbeat.objects.aggregate(newest=Max("beat_at"))["newest"]
    heartbeat = GaugeMetricFamily("crawl_trigger_heartbeat_timestamp_seconds",
                                  "Newest heartbeat of any trigger daemon (none before the first).")
    if beat is not None:
        heartbeat.add_metric([], beat.timestamp())
    result = [state, next_due, max_age,
              GaugeMetricFamily("crawl_scheduled_runs_queued", "Queued runs whose time has come (the backlog).",
                                value=queued),
              heartbeat]
    try:
        totals = folding.fold()
    except DatabaseError:
        error("webmon")
        return result
    return result + run_families(schedules, totals)


def run_families(schedules: list[dict[str, Any]], totals: dict[int, dict[str, int]]) -> list[Metric]:
    runs = CounterMetricFamily("crawl_schedule_runs", "Runs of the schedule that ended, by final state (a rerun "
                               "counts again when it ends).", labels=["schedule", "state"])
    delay = HistogramMetricFamily("crawl_schedule_delay_seconds", "Start delay of scheduled runs: first attempt's "
                                  "started_at minus the tick's logical time.", labels=["schedule"])
    columns = folding.DELAY_COLUMNS
    for s in schedules:
        row = totals.get(s["id"]) or dict.fromkeys(folding.TOTAL_FIELDS, 0)
        for name in folding.FINAL:
            runs.add_metric([s["name"], name], row[name])
        buckets = [*zip(map(floatToGoString, DELAY_BUCKETS), (row[c] for c in columns), strict=True),
                   ("+Inf", row["delay_count"])]
        delay.add_metric([s["name"]], buckets, row["delay_sum_ms"] / 1000)
    return [runs, delay]


def cadence_period(cron: str, tz: str, interval_seconds: int | None, now: datetime) -> float | None:
    """Seconds between ticks: the interval, or a cron's longest gap over the next week (cached per hour)."""
    if interval_seconds:
        return float(interval_seconds)
    if not cron.strip():
        return None
    return _longest_gap(cron.strip(), tz, now.replace(minute=0, second=0, microsecond=0))


@lru_cache(maxsize=512)
def _longest_gap(cron: str, tz: str, hour: datetime) -> float | None:
    try:
        ticks = iter_ticks(Cadence(start=hour - WEEK, cron=cron, tz=tz), hour)
        previous, longest = next(ticks), 0.0
        for tick in ticks:  # the gap that crosses the week's end counts too
            longest = max(longest, (tick - previous).total_seconds())
            if tick > hour + WEEK:
                break
            previous = tick
    except (StopIteration, CronSimError, ValueError, LookupError):  # no tick, or a cron / timezone gone bad
        return None
    return longest or None
