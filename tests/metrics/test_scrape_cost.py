"""A scrape's queries are fixed: the same at 10 and at 1,000 runs, in the history DB and in ScheduledRun."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import time_machine
from django.test import Client, override_settings
from history_seed import HistorySeed, run_row

from pipelines.runs import totals
from tests.metrics.world import FETCH_STATS, T0
from webmon.scheduling.models import Schedule, ScheduledRun


def seed(history: HistorySeed, n: int) -> None:
    families = ("FetchPages", "ParsePages", "StoreItems", "RunCrawl")
    history.runs_bulk([run_row(family=families[i % 4], crawl=f"crawl{i % 3}", status="done" if i % 5 else "failed",
                               started_at=T0 - timedelta(minutes=i), seconds=i % 100,
                               stats=json.dumps(FETCH_STATS) if i % 4 == 0 else None) for i in range(n)])
    totals.rebuild(history.engine)
    schedules = [Schedule.objects.create(name=f"s{i}", crawl=f"crawl{i}", cron="0 * * * *",
                                         start_at=T0 - timedelta(days=100)) for i in range(3)]
    states = (ScheduledRun.SUCCESS, ScheduledRun.FAILED, ScheduledRun.SKIPPED, ScheduledRun.RUNNING)
    ScheduledRun.objects.bulk_create([
        ScheduledRun(schedule=schedules[i % 3], logical_time=T0 - timedelta(hours=i), state=states[i % 4],
                     attempts=1, started_at=T0 - timedelta(hours=i) + timedelta(seconds=i % 7)) for i in range(n)])


@pytest.mark.parametrize("runs", [10, 1000])
def test_a_scrape_makes_the_same_queries_at_10_and_1000_runs(runs: int, fresh: None, history: HistorySeed,
                                                              anonymous: Client, num_queries) -> None:
    seed(history, runs)
    with time_machine.travel(T0, tick=False), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        # The first scrape also counts every run that ended before it (one aggregate query).
        with num_queries(default=15, history=3):
            # history: 1 crawl_run_totals, 2 crawl_crawl_totals, 3 crawl_quality_latest
            # webmon: 1 schedules, 2 queued backlog, 3 newest heartbeat, 4 cursor (none yet), 5 create it,
            # 6 highest run id, 7 schedule totals, 8 pending runs, 9 open runs, 10 aggregate of the ended runs;
            # 11 BEGIN, 12 claim the cursor, 13 write the totals, 14 remember the open runs, 15 COMMIT
            response = anonymous.get("/metrics", REMOTE_ADDR="127.0.0.1")
        assert response.status_code == 200
        assert b'crawl_schedule_runs_total{schedule="s0",state="success"}' in response.content
        with num_queries(default=8, history=3):
            # the same without changes: the cursor exists, nothing new to aggregate, nothing to write
            anonymous.get("/metrics", REMOTE_ADDR="127.0.0.1")
