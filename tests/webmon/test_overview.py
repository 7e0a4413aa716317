"""The overview: a row per crawl, what luigid runs now, recent failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from history_seed import HistorySeed

CLOSED_PORT_URL = "http://127.0.0.1:9"  # nothing listens on the discard port here


def seed_crawls(history: HistorySeed, crawls: int, ticks: int) -> datetime:
    now = timezone.now()
    for c in range(crawls):
        for t in range(ticks):
            at = (now - timedelta(hours=t + 1)).replace(second=0, microsecond=0)
            statuses = {"ParsePages": "failed"} if (c + t) % 3 == 0 else None
            history.tick(f"crawl-{c}", at, statuses=statuses)
    return now


@pytest.fixture(autouse=True)
def luigid_down() -> None:
    with override_settings(LUIGID_URL=CLOSED_PORT_URL):
        yield


def test_it_requires_login(anonymous: Client) -> None:
    response = anonymous.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/"


def test_it_shows_a_row_per_crawl_with_last_status_success_and_rate(client: Client, history: HistorySeed) -> None:
    seed_crawls(history, crawls=2, ticks=3)
    response = client.get("/")
    assert response.status_code == 200
    rows = response.context["crawls"]
    assert [row.name for row in rows] == ["crawl-0", "crawl-1"]
    crawl0 = rows[0]
    # crawl-0's newest tick (t=0) failed at ParsePages.
    assert crawl0.last_status == "failed"
    assert crawl0.last_success is not None and crawl0.last_success.family == "StoreItems"
    assert crawl0.spark is not None
    body = response.content.decode()
    assert 'class="crawl-row" data-crawl="crawl-1"' in body


def test_it_lists_recent_failures_with_their_error_line(client: Client, history: HistorySeed) -> None:
    history.run(
        family="FetchPages",
        crawl="shop",
        status="failed",
        started_at=timezone.now() - timedelta(hours=1),
        error_type="ConnectionError",
        error_message="\n  connection refused by 10.0.0.1\nmore detail",
    )
    body = client.get("/").content.decode()
    assert "<strong>ConnectionError</strong>: connection refused by 10.0.0.1" in body
    assert "more detail" not in body


def test_failures_older_than_a_week_are_not_recent(client: Client, history: HistorySeed) -> None:
    history.run(
        family="FetchPages",
        crawl="shop",
        status="failed",
        started_at=timezone.now() - timedelta(days=8),
        error_message="old news",
    )
    response = client.get("/")
    assert response.context["failures"] == []
    assert 'id="failures-empty"' in response.content.decode()


@pytest.mark.parametrize("crawls", [2, 20])
def test_its_queries_do_not_grow_with_the_number_of_runs_or_crawls(
    client: Client, history: HistorySeed, num_queries, crawls: int
) -> None:
    seed_crawls(history, crawls=crawls, ticks=3 if crawls == 2 else 30 // 2)
    with num_queries(default=3, history=8):
        # default: 1. the session, 2. the user, 3. the schedules (every one, by name: trouble.py)
        # history: 1. crawl names (index skip-scan), 2. the newest runs of each crawl (one UNION ALL),
        # 3. the last success of each crawl (one UNION ALL), 4. 7-day done last stages per crawl,
        # 5. 7-day runs per crawl that are not done (status index), 6. every run of their ticks (task ids),
        # 7. recent failures, 8. the stats of each crawl's newest done StoreItems and RunCrawl (warnings?)
        response = client.get("/")
    assert response.status_code == 200
    assert len(response.context["crawls"]) == crawls


def test_with_no_runs_it_says_so(client: Client, history: HistorySeed) -> None:
    body = client.get("/").content.decode()
    assert 'id="crawls-empty"' in body


def test_the_7_day_rate_counts_finished_ticks_of_the_last_7_days_only(client: Client, history: HistorySeed) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    history.tick("a", now - timedelta(days=1))
    history.tick("a", now - timedelta(days=2), statuses={"ParsePages": "failed"})
    history.tick("a", now - timedelta(days=9), statuses={"ParsePages": "failed"})
    history.tick("a", now - timedelta(minutes=1), statuses={"FetchPages": "running"})
    row = client.get("/").context["crawls"][0]
    assert (row.rate, row.finished) == (0.5, 2)


def test_a_crawl_whose_only_tick_failed_is_0_percent_of_1_tick(client: Client, history: HistorySeed) -> None:
    history.tick("a", timezone.now().replace(second=0, microsecond=0) - timedelta(hours=1),
                 statuses={"StoreItems": "failed"})  # 2 run records done, 1 failed
    response = client.get("/")
    assert (response.context["crawls"][0].rate, response.context["crawls"][0].finished) == (0.0, 1)
    assert '<td class="rate">0% <small>of 1 tick</small></td>' in response.content.decode()


def test_a_tick_retried_until_done_counts_as_one_done_tick(client: Client, history: HistorySeed) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    history.attempts("a", now - timedelta(hours=3), [("FetchPages", "failed"), ("FetchPages", "done"),
                                                     ("ParsePages", "done"), ("StoreItems", "done"),
                                                     ("RunCrawl", "done")])
    history.attempts("a", now - timedelta(hours=2), [("FetchPages", "done"), ("ParsePages", "failed"),
                                                     ("ParsePages", "running")])
    row = client.get("/").context["crawls"][0]
    assert (row.rate, row.finished) == (1.0, 1)  # the running retry is not finished


def test_a_running_tick_whose_worker_went_silent_is_stale(client: Client, history: HistorySeed) -> None:
    now = timezone.now()
    history.run(
        crawl="a",
        family="FetchPages",
        status="running",
        started_at=now - timedelta(hours=1),
        heartbeat_at=now - timedelta(minutes=30),
    )
    row = client.get("/").context["crawls"][0]
    assert row.last_status == "stale"


def test_luigid_down_shows_a_banner_and_the_rest_of_the_page(client: Client, history: HistorySeed) -> None:
    seed_crawls(history, crawls=1, ticks=1)
    response = client.get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="banner-luigid"' in body
    assert "luigid at http://127.0.0.1:9 does not answer" in body
    assert 'id="running-unknown"' in body
    assert 'data-crawl="crawl-0"' in body


def test_the_overview_refreshes_itself_with_a_static_script(client: Client, history: HistorySeed) -> None:
    body = client.get("/").content.decode()
    assert 'data-refresh-seconds="30"' in body
    assert '<script src="/static/monitor/monitor.js" defer></script>' in body
    assert "<script>" not in body  # the CSP allows no inline script


def test_a_naive_time_never_leaks_out(client: Client, history: HistorySeed) -> None:
    history.run(crawl="a", family="FetchPages", started_at=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(days=400))
    row = client.get("/").context["crawls"][0]
    assert row.last.started_at.tzinfo is UTC


def test_a_scrapy_spiders_ticks_are_its_runs_and_its_done_run_is_the_last_success(
        client: Client, history: HistorySeed) -> None:
    # ScrapySpider records count under the spider's name (pipelines/external/scrapy.py run_crawl).
    now = timezone.now()
    older = history.run(family="ScrapySpider", crawl="shop", task_id="ScrapySpider_shop_2026_1_aaa",
                        params="{}", status="done", started_at=now - timedelta(hours=2))
    history.run(family="ScrapySpider", crawl="shop", task_id="ScrapySpider_shop_2026_2_bbb", params="{}",
                status="failed", started_at=now - timedelta(hours=1))
    row = client.get("/").context["crawls"][0]
    assert row.name == "shop"
    assert row.last_status == "failed"  # the newest tick is the newest spider run
    assert row.last_success is not None and row.last_success.id == older


def test_the_sparkline_says_its_figures_on_hover(client: Client, history: HistorySeed) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    history.tick("hover", now - timedelta(hours=2), seconds=40.0)  # 3 x 40 s + the gaps and RunCrawl: 121.25 s
    history.tick("hover", now - timedelta(hours=1), seconds=10.0)  # 31.25 s
    body = client.get("/").content.decode()
    row = body[body.index('data-crawl="hover"'):]
    spark = row[row.index('<svg class="spark"'):row.index("</svg>")]
    assert "<title>the last 2 ticks: newest 31 s, shortest 31 s, longest 2 min 01 s</title>" in spark
