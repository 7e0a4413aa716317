"""/metrics on a seeded world: the exact lines of every part, and what happens when a part is down."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client, override_settings
from history_seed import HistorySeed
from prometheus_client.utils import floatToGoString

from pipelines.runs.models import FAILED
from tests.metrics.conftest import FakeLuigid
from tests.metrics.world import FETCH_STATS, SECRET_URL, T0, run, samples, scrape, seed_history, seed_schedules
from webmon.metrics import collector
from webmon.scheduling.models import Schedule

NOW = T0 + timedelta(minutes=1)


def ts(moment: datetime) -> str:
    return floatToGoString(moment.timestamp())


@pytest.fixture
def world(fresh: None, history: HistorySeed, fake_luigid: FakeLuigid) -> Iterator[HistorySeed]:
    seed_history(history)
    seed_schedules()
    fake_luigid.counts = {"RUNNING": 7, "PENDING": 4, "PENDING/UPSTREAM_FAILED": 3}
    with time_machine.travel(NOW, tick=False), override_settings(LUIGID_URL=fake_luigid.url):
        yield history


def test_task_runs_by_family_and_status(world: HistorySeed, anonymous: Client) -> None:
    text = scrape(anonymous)
    assert samples(text, "crawl_task_runs_total") == [
        'crawl_task_runs_total{family="FetchPages",status="done"} 1.0',
        'crawl_task_runs_total{family="FetchPages",status="failed"} 1.0',
        'crawl_task_runs_total{family="FetchPages",status="killed"} 1.0',
        'crawl_task_runs_total{family="ParsePages",status="done"} 1.0',
        'crawl_task_runs_total{family="ParsePages",status="failed"} 0.0',
        'crawl_task_runs_total{family="ParsePages",status="killed"} 0.0',
        'crawl_task_runs_total{family="RunCrawl",status="done"} 1.0',
        'crawl_task_runs_total{family="RunCrawl",status="failed"} 0.0',
        'crawl_task_runs_total{family="RunCrawl",status="killed"} 0.0',
        'crawl_task_runs_total{family="StoreItems",status="done"} 1.0',
        'crawl_task_runs_total{family="StoreItems",status="failed"} 0.0',
        'crawl_task_runs_total{family="StoreItems",status="killed"} 0.0',
    ]


def test_task_duration_histogram_counts_done_failed_and_killed_runs(world: HistorySeed, anonymous: Client) -> None:
    text = scrape(anonymous)
    fetch = [line for line in samples(text, "crawl_task_duration_seconds_bucket", "crawl_task_duration_seconds_count",
                                      "crawl_task_duration_seconds_sum") if 'family="FetchPages"' in line]
    # FetchPages: done in 40 s, failed in 3 s, killed 30 s in (its last heartbeat).
    assert fetch == [
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="1.0"} 0.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="5.0"} 1.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="15.0"} 1.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="30.0"} 2.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="60.0"} 3.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="120.0"} 3.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="300.0"} 3.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="600.0"} 3.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="1800.0"} 3.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="3600.0"} 3.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="7200.0"} 3.0',
        'crawl_task_duration_seconds_bucket{family="FetchPages",le="+Inf"} 3.0',
        'crawl_task_duration_seconds_count{family="FetchPages"} 3.0',
        'crawl_task_duration_seconds_sum{family="FetchPages"} 73.0',
    ]


def test_last_success_failure_and_duration_per_family(world: HistorySeed, anonymous: Client) -> None:
    text = scrape(anonymous)
    tick = T0 - timedelta(hours=2)
    assert samples(text, "crawl_task_last_success_timestamp_seconds", "crawl_task_last_failure_timestamp_seconds",
                   "crawl_task_last_duration_seconds") == [
        f'crawl_task_last_success_timestamp_seconds{{family="FetchPages"}} {ts(tick + timedelta(seconds=40))}',
        f'crawl_task_last_success_timestamp_seconds{{family="ParsePages"}} {ts(tick + timedelta(seconds=45))}',
        f'crawl_task_last_success_timestamp_seconds{{family="RunCrawl"}} {ts(tick + timedelta(seconds=49.5))}',
        f'crawl_task_last_success_timestamp_seconds{{family="StoreItems"}} {ts(tick + timedelta(seconds=48))}',
        # The killed run (ended 29.5 minutes ago) is newer than the failed one (ended 59m57s ago).
        f'crawl_task_last_failure_timestamp_seconds{{family="FetchPages"}} {ts(T0 - timedelta(minutes=29.5))}',
        'crawl_task_last_duration_seconds{family="FetchPages"} 30.0',
        'crawl_task_last_duration_seconds{family="ParsePages"} 4.0',
        'crawl_task_last_duration_seconds{family="RunCrawl"} 0.5',
        'crawl_task_last_duration_seconds{family="StoreItems"} 2.0',
    ]


def test_crawl_counters_from_the_stages_stats(world: HistorySeed, anonymous: Client) -> None:
    text = scrape(anonymous)
    assert samples(text, "crawl_pages_fetched_total", "crawl_bytes_total", "crawl_retries_total",
                   "crawl_items_parsed_total", "crawl_items_dropped_total", "crawl_responses_total",
                   "crawl_fetch_failures_total", "crawl_items_stored_total",
                   "crawl_last_success_timestamp_seconds") == [
        'crawl_pages_fetched_total{crawl="shop"} 120.0',
        'crawl_bytes_total{crawl="shop"} 2.5e+06',
        'crawl_retries_total{crawl="shop"} 4.0',
        'crawl_items_parsed_total{crawl="shop"} 96.0',
        'crawl_items_dropped_total{crawl="shop"} 3.0',
        'crawl_responses_total{crawl="shop",status_class="1xx"} 0.0',
        'crawl_responses_total{crawl="shop",status_class="2xx"} 118.0',
        'crawl_responses_total{crawl="shop",status_class="3xx"} 2.0',
        'crawl_responses_total{crawl="shop",status_class="4xx"} 3.0',
        'crawl_responses_total{crawl="shop",status_class="5xx"} 1.0',
        'crawl_fetch_failures_total{crawl="shop",reason="http_4xx"} 3.0',
        'crawl_fetch_failures_total{crawl="shop",reason="http_5xx"} 1.0',
        'crawl_fetch_failures_total{crawl="shop",reason="other"} 1.0',
        'crawl_fetch_failures_total{crawl="shop",reason="timeout"} 2.0',
        'crawl_items_stored_total{crawl="shop",kind="new"} 10.0',
        'crawl_items_stored_total{crawl="shop",kind="changed"} 6.0',
        'crawl_items_stored_total{crawl="shop",kind="unchanged"} 80.0',
        f'crawl_last_success_timestamp_seconds{{crawl="shop"}} {ts(T0 - timedelta(hours=2) + timedelta(seconds=49.5))}',
    ]


def test_task_runs_per_crawl_name_the_crawl_and_runs_without_one_have_none(world: HistorySeed,
                                                                          anonymous: Client) -> None:
    run(world, "BackupDatabase", FAILED, T0 - timedelta(minutes=10), 5, crawl=None)
    text = scrape(anonymous)
    assert samples(text, "crawl_task_runs_by_crawl_total") == [
        'crawl_task_runs_by_crawl_total{crawl="",family="BackupDatabase",status="done"} 0.0',
        'crawl_task_runs_by_crawl_total{crawl="",family="BackupDatabase",status="failed"} 1.0',
        'crawl_task_runs_by_crawl_total{crawl="",family="BackupDatabase",status="killed"} 0.0',
        'crawl_task_runs_by_crawl_total{crawl="blog",family="FetchPages",status="done"} 0.0',
        'crawl_task_runs_by_crawl_total{crawl="blog",family="FetchPages",status="failed"} 0.0',
        'crawl_task_runs_by_crawl_total{crawl="blog",family="FetchPages",status="killed"} 1.0',
        *[f'crawl_task_runs_by_crawl_total{{crawl="shop",family="{family}",status="{status}"}} {n}'
          for family, done, failed in (("FetchPages", 1, 1), ("ParsePages", 1, 0), ("RunCrawl", 1, 0),
                                       ("StoreItems", 1, 0))
          for status, n in (("done", f"{done}.0"), ("failed", f"{failed}.0"), ("killed", "0.0"))],
    ]
    assert samples(text, "crawl_task_last_failure_by_crawl_timestamp_seconds") == [
        f'crawl_task_last_failure_by_crawl_timestamp_seconds{{crawl="",family="BackupDatabase"}} '
        f'{ts(T0 - timedelta(minutes=9, seconds=55))}',
        f'crawl_task_last_failure_by_crawl_timestamp_seconds{{crawl="blog",family="FetchPages"}} '
        f'{ts(T0 - timedelta(minutes=29, seconds=30))}',
        f'crawl_task_last_failure_by_crawl_timestamp_seconds{{crawl="shop",family="FetchPages"}} '
        f'{ts(T0 - timedelta(hours=1) + timedelta(seconds=3))}',
    ]
    # Crawl-less runs and crawls with task runs only get no crawl counters (blog had no stats).
    assert samples(text, "crawl_pages_fetched_total", "crawl_parse_runs_total") == [
        'crawl_pages_fetched_total{crawl="shop"} 120.0', 'crawl_parse_runs_total{crawl="shop"} 1.0']


def test_every_part_read_is_up_and_a_part_that_failed_is_down(world: HistorySeed, anonymous: Client) -> None:
    assert samples(scrape(anonymous), "crawl_exporter_part_up") == [
        'crawl_exporter_part_up{part="history"} 1.0', 'crawl_exporter_part_up{part="webmon"} 1.0',
        'crawl_exporter_part_up{part="luigid"} 1.0']
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        assert samples(scrape(anonymous), "crawl_exporter_part_up") == [
            'crawl_exporter_part_up{part="history"} 1.0', 'crawl_exporter_part_up{part="webmon"} 1.0',
            'crawl_exporter_part_up{part="luigid"} 0.0']


def test_schedule_gauges(world: HistorySeed, anonymous: Client) -> None:
    text = scrape(anonymous)
    assert samples(text, "crawl_schedule_state", "crawl_schedule_next_due_timestamp_seconds",
                   "crawl_schedule_max_age_seconds", "crawl_scheduled_runs_queued",
                   "crawl_trigger_heartbeat_timestamp_seconds") == [
        'crawl_schedule_state{crawl="blog",schedule="blog-daily",state="new"} 0.0',
        'crawl_schedule_state{crawl="blog",schedule="blog-daily",state="up"} 0.0',
        'crawl_schedule_state{crawl="blog",schedule="blog-daily",state="late"} 0.0',
        'crawl_schedule_state{crawl="blog",schedule="blog-daily",state="down"} 0.0',
        'crawl_schedule_state{crawl="blog",schedule="blog-daily",state="paused"} 1.0',
        'crawl_schedule_state{crawl="shop",schedule="shop-hourly",state="new"} 0.0',
        'crawl_schedule_state{crawl="shop",schedule="shop-hourly",state="up"} 1.0',
        'crawl_schedule_state{crawl="shop",schedule="shop-hourly",state="late"} 0.0',
        'crawl_schedule_state{crawl="shop",schedule="shop-hourly",state="down"} 0.0',
        'crawl_schedule_state{crawl="shop",schedule="shop-hourly",state="paused"} 0.0',
        f'crawl_schedule_next_due_timestamp_seconds{{crawl="shop",schedule="shop-hourly"}} {ts(T0 + timedelta(hours=1))}',
        'crawl_schedule_max_age_seconds{crawl="blog",schedule="blog-daily"} 87000.0',  # 1 day + 600 s grace
        'crawl_schedule_max_age_seconds{crawl="shop",schedule="shop-hourly"} 3900.0',  # 1 hour + 300 s grace
        "crawl_scheduled_runs_queued 1.0",  # the manual run; the backfill waits 10 minutes more
        f"crawl_trigger_heartbeat_timestamp_seconds {ts(T0 - timedelta(seconds=5))}",
    ]


def test_schedule_runs_and_start_delays(world: HistorySeed, anonymous: Client) -> None:
    text = scrape(anonymous)
    assert samples(text, "crawl_schedule_runs_total") == [
        'crawl_schedule_runs_total{schedule="blog-daily",state="success"} 0.0',
        'crawl_schedule_runs_total{schedule="blog-daily",state="failed"} 0.0',
        'crawl_schedule_runs_total{schedule="blog-daily",state="skipped"} 0.0',
        'crawl_schedule_runs_total{schedule="blog-daily",state="timed_out"} 0.0',
        'crawl_schedule_runs_total{schedule="shop-hourly",state="success"} 1.0',
        'crawl_schedule_runs_total{schedule="shop-hourly",state="failed"} 1.0',
        'crawl_schedule_runs_total{schedule="shop-hourly",state="skipped"} 1.0',
        'crawl_schedule_runs_total{schedule="shop-hourly",state="timed_out"} 0.0',
    ]
    # Started 1.5 s, 0.4 s and 0.2 s (still running) after their ticks; the missed and manual runs have none.
    assert [line for line in samples(text, "crawl_schedule_delay_seconds_bucket", "crawl_schedule_delay_seconds_count",
                                     "crawl_schedule_delay_seconds_sum") if "shop-hourly" in line] == [
        'crawl_schedule_delay_seconds_bucket{le="0.25",schedule="shop-hourly"} 1.0',
        'crawl_schedule_delay_seconds_bucket{le="0.5",schedule="shop-hourly"} 2.0',
        'crawl_schedule_delay_seconds_bucket{le="1.0",schedule="shop-hourly"} 2.0',
        'crawl_schedule_delay_seconds_bucket{le="2.0",schedule="shop-hourly"} 3.0',
        'crawl_schedule_delay_seconds_bucket{le="5.0",schedule="shop-hourly"} 3.0',
        'crawl_schedule_delay_seconds_bucket{le="10.0",schedule="shop-hourly"} 3.0',
        'crawl_schedule_delay_seconds_bucket{le="30.0",schedule="shop-hourly"} 3.0',
        'crawl_schedule_delay_seconds_bucket{le="60.0",schedule="shop-hourly"} 3.0',
        'crawl_schedule_delay_seconds_bucket{le="300.0",schedule="shop-hourly"} 3.0',
        'crawl_schedule_delay_seconds_bucket{le="+Inf",schedule="shop-hourly"} 3.0',
        'crawl_schedule_delay_seconds_count{schedule="shop-hourly"} 3.0',
        'crawl_schedule_delay_seconds_sum{schedule="shop-hourly"} 2.1',
    ]


def test_a_cron_on_weekdays_may_wait_over_the_weekend() -> None:
    from webmon.metrics.schedules import cadence_period

    # Friday 17:30 to Monday 09:00 in Berlin (UTC+1 in November): 63.5 hours.
    assert cadence_period("*/30 9-17 * * 1-5", "Europe/Berlin", None, T0) == 63.5 * 3600
    assert cadence_period("0 0 1 1 *", "UTC", None, T0) == 365 * 86400  # the gap past the week counts
    assert cadence_period("", "UTC", None, T0) is None
    assert cadence_period("0 0 30 2 *", "UTC", None, T0) is None  # never fires


def test_luigid_running_and_pending_tasks(world: HistorySeed, anonymous: Client, fake_luigid: FakeLuigid) -> None:
    text = scrape(anonymous)
    assert samples(text, "crawl_luigid_up", "crawl_luigid_tasks", "crawl_luigid_blocked_tasks") == [
        "crawl_luigid_up 1.0",
        'crawl_luigid_tasks{status="running"} 7.0',
        'crawl_luigid_tasks{status="pending"} 1.0',  # 4 pending, 3 of them behind a failed upstream
        'crawl_luigid_blocked_tasks{reason="upstream_failed"} 3.0',
        'crawl_luigid_blocked_tasks{reason="upstream_disabled"} 0.0',
    ]
    assert fake_luigid.calls[-4:] == [  # counts, never the task list
        {"status": "RUNNING", "upstream_status": "", "search": "", "limit": True, "max_shown_tasks": 1},
        {"status": "PENDING", "upstream_status": "", "search": "", "limit": True, "max_shown_tasks": 1},
        {"status": "PENDING", "upstream_status": "UPSTREAM_FAILED", "search": " ", "limit": True,
         "max_shown_tasks": 1},
        {"status": "PENDING", "upstream_status": "UPSTREAM_DISABLED", "search": " ", "limit": True,
         "max_shown_tasks": 1},
    ]


def test_luigid_down_is_up_0_without_task_series_and_the_page_still_200(world: HistorySeed, anonymous: Client) -> None:
    before = collector.errors()
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        text = scrape(anonymous)
    assert samples(text, "crawl_luigid_up", "crawl_luigid_tasks") == ["crawl_luigid_up 0.0"]
    assert collector.errors() == {**before, "luigid": before["luigid"] + 1}
    assert samples(text, "crawl_task_runs_total")  # the other parts are served


def test_an_unreadable_history_db_leaves_its_part_out(fresh: None, history_at, tmp_path: Path,
                                                      anonymous: Client) -> None:
    seed_schedules()
    before = collector.errors()
    missing = tmp_path / "nowhere" / "history.db"
    with history_at(str(missing)), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        text = scrape(anonymous)
    assert not missing.exists()  # never created by a scrape
    assert samples(text, "crawl_task_runs_total", "crawl_pages_fetched_total") == []
    assert samples(text, "crawl_schedule_runs_total")
    assert collector.errors()["history"] == before["history"] + 1
    assert "nowhere" not in text


def test_a_history_db_without_the_totals_tables_is_an_error_of_the_history_part(
        fresh: None, history_at, tmp_path: Path, anonymous: Client) -> None:
    import sqlite3

    sqlite3.connect(tmp_path / "old.db").close()
    before = collector.errors()["history"]
    with history_at(str(tmp_path / "old.db")), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        scrape(anonymous)
    assert collector.errors()["history"] == before + 1


def test_limits_reached_count_per_crawl_and_limit(world: HistorySeed, anonymous: Client) -> None:
    # Two more fetches of shop: one stopped at max_pages and found a too-large page, one at max_pages again.
    hits = [{"limit": "max_pages", "urls": 200, "sentence": "max_pages: ..."},
            {"limit": "max_bytes", "urls": 1, "sentence": "max_bytes: ..."}]
    run(world, "FetchPages", "done", T0 - timedelta(minutes=20), 30, "shop", {**FETCH_STATS, "limits": hits})
    run(world, "FetchPages", "done", T0 - timedelta(minutes=10), 30, "shop", {**FETCH_STATS, "limits": hits[:1]})
    text = scrape(anonymous)
    assert samples(text, "crawl_limit_hits_total", "crawl_limit_skipped_urls_total") == [
        'crawl_limit_hits_total{crawl="shop",limit="max_pages"} 2.0',
        'crawl_limit_hits_total{crawl="shop",limit="max_depth"} 0.0',
        'crawl_limit_hits_total{crawl="shop",limit="budget"} 0.0',
        'crawl_limit_hits_total{crawl="shop",limit="max_bytes"} 1.0',
        'crawl_limit_skipped_urls_total{crawl="shop",limit="max_pages"} 400.0',
        'crawl_limit_skipped_urls_total{crawl="shop",limit="max_depth"} 0.0',
        'crawl_limit_skipped_urls_total{crawl="shop",limit="budget"} 0.0',
        'crawl_limit_skipped_urls_total{crawl="shop",limit="max_bytes"} 1.0',
    ]


def test_labels_are_bounded_no_task_id_url_or_parameter_ever_appears(world: HistorySeed, anonymous: Client) -> None:
    text = scrape(anonymous)
    assert SECRET_URL not in text and "shop.example" not in text and "__" not in text
    label_names = set(re.findall(r'[{,]([a-z_]+)="', text))
    assert label_names == {"family", "status", "le", "crawl", "status_class", "reason", "kind", "schedule", "state",
                           "part", "version", "python", "luigi", "django", "limit"}
    families = set(re.findall(r'family="([^"]*)"', text))
    assert families == {"FetchPages", "ParsePages", "StoreItems", "RunCrawl"}
    assert set(re.findall(r'crawl="([^"]*)"', text)) == {"shop", "blog"}


def test_build_info_and_the_exporters_own_figures(world: HistorySeed, anonymous: Client) -> None:
    import platform

    import django

    text = scrape(anonymous)
    assert samples(text, "crawl_build_info") == [
        f'crawl_build_info{{django="{django.get_version()}",luigi="3.8.1",python="{platform.python_version()}",'
        f'version="0.1.0"}} 1.0']
    (collect,) = samples(text, "crawl_exporter_collect_seconds")
    assert 0 < float(collect.split()[1]) < 5
    assert [line.split("{")[1].split("}")[0] for line in samples(text, "crawl_exporter_errors_total")] == [
        'part="history"', 'part="webmon"', 'part="luigid"']


def test_webmon_counts_its_own_responses_by_status_class(world: HistorySeed, anonymous: Client) -> None:
    def counts() -> dict[str, float]:
        found = re.findall(r'crawl_http_responses_total\{status_class="(\dxx)"\} (\S+)', scrape(anonymous))
        return {k: float(v) for k, v in found}

    before = counts()  # a scrape's own 200 is counted after its body is made: in the next one
    anonymous.get("/no-such-page/")  # 404
    anonymous.get("/metrics", REMOTE_ADDR="203.0.113.9")  # 403
    after = counts()
    assert {k: after[k] - before[k] for k in after} == {"1xx": 0, "2xx": 1, "3xx": 0, "4xx": 2, "5xx": 0}


def test_a_deleted_schedule_disappears(world: HistorySeed, anonymous: Client) -> None:
    scrape(anonymous)
    Schedule.objects.filter(name="shop-hourly").delete()
    text = scrape(anonymous)
    assert "shop-hourly" not in text
