"""A small named world for the /metrics tests (Healthchecks' BaseTestCase, as functions).

History: runs written through the worker's code path (records.create_run + finish, the sweep),
so the totals are the ones the workers keep. Webmon DB: two schedules, their runs, two daemons.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from django.test import Client
from history_seed import HistorySeed

from pipelines.runs import records
from pipelines.runs.models import DONE, FAILED
from pipelines.runs.sweep import sweep
from webmon.scheduling.models import DaemonHeartbeat, Schedule, ScheduledRun

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)  # a Saturday
FETCH_STATS = {
    "fetched": 120, "failed": 7, "skipped": 3, "requests": 131, "bytes": 2_500_000, "retries": 4,
    "failed_by_reason": {"timeout": 2, "http_404": 3, "http_503": 1, "unfollowed_redirect": 1},
    "skipped_by_reason": {"offsite": 3}, "responses_by_status": {"200": 118, "301": 2, "404": 3, "503": 1},
    "retries_by_reason": {"timeout": 4}, "elapsed_s": 12.5,
}
PARSE_STATS = {"pages": 124, "item_pages": 100, "items": 96, "no_item": 1, "errors": 3}
STORE_STATS = {"items": 96, "new": 10, "changed": 6, "unchanged": 80, "duplicates": 0}
SECRET_URL = "https://shop.example/private?token=abc"  # appears in task ids and params, never in /metrics


def run(seed: HistorySeed, family: str, status: str, start: datetime, seconds: float, crawl: str | None = "shop",
        stats: dict | None = None) -> int:
    """One run through the worker's code path."""
    task_id = f"{family}__{crawl}__{start:%Y%m%dT%H%M%S}__{SECRET_URL}"
    run_id, _ = records.create_run(seed.engine, task_id=task_id, family=family, crawl=crawl,
                                   params=json.dumps({"crawl": crawl, "start_url": SECRET_URL}), host="worker-1",
                                   pid=4242, worker="w1", now=start)
    records.finish(seed.engine, run_id, status=status, now=start + timedelta(seconds=seconds),
                   stats=json.dumps(stats) if stats is not None else None)
    return run_id


def tick(seed: HistorySeed, crawl: str, start: datetime) -> None:
    run(seed, "FetchPages", DONE, start, 40, crawl, FETCH_STATS)
    run(seed, "ParsePages", DONE, start + timedelta(seconds=41), 4, crawl, PARSE_STATS)
    run(seed, "StoreItems", DONE, start + timedelta(seconds=46), 2, crawl, STORE_STATS)
    run(seed, "RunCrawl", DONE, start + timedelta(seconds=49), 0.5, crawl, {"summary": "ok"})


def seed_history(seed: HistorySeed) -> None:
    tick(seed, "shop", T0 - timedelta(hours=2))
    run(seed, "FetchPages", FAILED, T0 - timedelta(hours=1), 3, "shop")
    # A worker that died: its run is killed by the sweep, ending at its last heartbeat (30 s in).
    dead, _ = records.create_run(seed.engine, task_id="FetchPages__blog", family="FetchPages", crawl="blog",
                                 params="{}", host="worker-2", pid=1, worker=None, now=T0 - timedelta(minutes=30))
    records.beat(seed.engine, dead, T0 - timedelta(minutes=29, seconds=30))
    sweep(seed.engine, T0, dead_after=60, host="elsewhere")


def seed_schedules() -> tuple[Schedule, Schedule]:
    shop = Schedule.objects.create(name="shop-hourly", crawl="shop", cron="0 * * * *", grace_seconds=300,
                                   start_at=T0 - timedelta(days=30), state=Schedule.UP,
                                   next_due=T0 + timedelta(hours=1))
    blog = Schedule.objects.create(name="blog-daily", crawl="blog", interval_seconds=86400, grace_seconds=600,
                                   start_at=T0 - timedelta(days=30), state=Schedule.PAUSED, enabled=False)

    def tick_run(hours_ago: int, state: str, delay: float | None, **values: object) -> ScheduledRun:
        at = T0 - timedelta(hours=hours_ago)
        started = at + timedelta(seconds=delay) if delay is not None else None
        return ScheduledRun.objects.create(schedule=shop, logical_time=at, state=state, started_at=started,
                                           attempts=1 if started else 0, **values)

    tick_run(3, ScheduledRun.SUCCESS, 1.5, finished_at=T0 - timedelta(hours=2, minutes=50))
    tick_run(2, ScheduledRun.FAILED, 0.4, finished_at=T0 - timedelta(hours=1, minutes=55))
    tick_run(1, ScheduledRun.SKIPPED, None, reason="missed", finished_at=T0 - timedelta(minutes=50))
    tick_run(0, ScheduledRun.RUNNING, 0.2)
    ScheduledRun.objects.create(schedule=shop, logical_time=T0 - timedelta(hours=5), trigger=ScheduledRun.MANUAL,
                                state=ScheduledRun.QUEUED)  # its time has come: the backlog
    ScheduledRun.objects.create(schedule=blog, logical_time=T0 - timedelta(days=1), trigger=ScheduledRun.BACKFILL,
                                state=ScheduledRun.QUEUED, not_before=T0 + timedelta(minutes=10))  # not yet
    DaemonHeartbeat.objects.create(name="host-a:1", beat_at=T0 - timedelta(seconds=5))
    DaemonHeartbeat.objects.create(name="host-b:2", beat_at=T0 - timedelta(minutes=10))
    return shop, blog


def scrape(client: Client, **extra: str) -> str:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1", **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return response.content.decode()


def samples(text: str, *names: str) -> list[str]:
    """The sample lines of these metrics (the names as written, e.g. crawl_task_runs_total), in output order."""
    pattern = re.compile(r"^({})(\{{| )".format("|".join(re.escape(n) for n in names)))
    return [line for line in text.splitlines() if pattern.match(line)]
