"""The crawl page: duration trend, 90-day calendar, failures, items stored per run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from history_seed import HistorySeed


def seed_days(history: HistorySeed, crawl: str, days: int, per_day: int = 1) -> None:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for d in range(days):
        for i in range(per_day):
            at = now - timedelta(days=d, hours=i + 1)
            history.tick(crawl, at, statuses={"ParsePages": "failed"} if d % 5 == 1 and i == 0 else None)


def test_it_requires_login(anonymous: Client) -> None:
    response = anonymous.get("/crawl/?name=demo")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/crawl/%3Fname%3Ddemo"


def test_without_a_name_there_is_no_crawl(client: Client, history: HistorySeed) -> None:
    assert client.get("/crawl/").status_code == 404


def test_it_draws_the_trend_the_calendar_failures_and_items(client: Client, history: HistorySeed) -> None:
    seed_days(history, "demo", days=12)
    response = client.get("/crawl/?name=demo")
    assert response.status_code == 200
    body = response.content.decode()
    assert response.context["ticks"] == 12
    # Days 1, 6 and 11 failed at ParsePages.
    assert body.count('class="bar bar-done"') == 9 and body.count('class="bar bar-failed"') == 3
    today = timezone.now().date()
    calendar = {cell.day: cell.css for cell in response.context["calendar"].cells}
    assert len(calendar) == 90
    assert calendar[(today - timedelta(days=1)).isoformat()] in ("day-failed", "day-mixed")
    assert calendar[(today - timedelta(days=2)).isoformat()] == "day-ok"
    assert calendar[(today - timedelta(days=60)).isoformat()] == "day-none"
    assert len(response.context["failures"]) == 3
    assert 'id="items-stored"' in body
    assert response.context["stores"][0].items == 100


@pytest.mark.parametrize("days", [3, 30])
def test_its_queries_do_not_grow_with_the_number_of_runs(
    client: Client, history: HistorySeed, num_queries, days: int
) -> None:
    seed_days(history, "demo", days=days, per_day=2)
    with num_queries(default=2, history=5):
        # default: 1. the session, 2. the user
        # history: 1. the newest 400 runs of the crawl (trend), 2. runs per day (one index-range count per
        # day), 3. runs per day that are not done (status index), 4. failures in 90 days, 5. the newest 50
        # StoreItems runs
        response = client.get("/crawl/?name=demo")
    assert response.status_code == 200


def test_a_crawl_with_no_runs_renders_empty_sections(client: Client, history: HistorySeed) -> None:
    response = client.get("/crawl/?name=nothing-here")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="crawl-empty"' in body and 'id="stores-empty"' in body


def test_stats_without_counts_show_dashes(client: Client, history: HistorySeed) -> None:
    history.run(family="StoreItems", crawl="demo", started_at=timezone.now(), stats="not json at all")
    response = client.get("/crawl/?name=demo")
    assert response.context["stores"][0].items is None
    assert '<td class="items">—</td>' in response.content.decode()
