"""The crawl page: duration trend, 90-day calendar, failures, items stored per run."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone
from history_seed import HistorySeed

from webmon.monitor.models import UserPreference


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
    assert calendar[(today - timedelta(days=1)).isoformat()] == "day-failed"  # its one tick failed
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
    with num_queries(default=2, history=7):
        # default: 1. the session, 2. the user
        # history: 1. the newest runs that end ticks (done last stages, failures), 2. every run of those
        # ticks (task ids), 3. done last stages per day (one index-range count per day), 4. the runs of
        # 90 days that are not done (status index), 5. every run of their ticks (task ids), 6. failures
        # in 90 days, 7. the newest 50 StoreItems runs
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


def cells(response) -> dict[str, tuple[str, str]]:
    return {cell.day: (cell.css, cell.title) for cell in response.context["calendar"].cells}


def test_a_crawl_whose_only_tick_failed_has_a_red_day(client: Client, history: HistorySeed) -> None:
    at = timezone.now().replace(second=0, microsecond=0) - timedelta(minutes=5)
    history.tick("demo", at, statuses={"StoreItems": "failed"})  # 3 run records: 2 done, 1 failed
    response = client.get("/crawl/?name=demo")
    assert cells(response)[at.date().isoformat()] == ("day-failed", f"{at.date()}: 1 tick, 1 failed")
    body = response.content.decode()
    assert f'class="day day-failed" data-day="{at.date()}"' in body


def test_a_day_with_one_of_four_ticks_failed_is_shaded_by_the_share(client: Client, history: HistorySeed) -> None:
    day = (timezone.now() - timedelta(days=3)).replace(hour=6, minute=0, second=0, microsecond=0)
    for i in range(4):
        history.tick("demo", day + timedelta(hours=i), statuses={"ParsePages": "failed"} if i == 2 else None)
    history.tick("demo", day - timedelta(days=1), statuses={"FetchPages": "failed"})
    history.tick("demo", day - timedelta(days=1, hours=-1))
    response = client.get("/crawl/?name=demo")
    calendar = cells(response)
    assert calendar[day.date().isoformat()] == ("day-few", f"{day.date()}: 4 ticks, 3 done, 1 failed")
    before = (day - timedelta(days=1)).date()
    assert calendar[before.isoformat()] == ("day-some", f"{before}: 2 ticks, 1 done, 1 failed")
    assert 'class="key day-few"' in response.content.decode()  # the legend explains the shade


def test_a_tick_retried_until_done_is_one_done_tick(client: Client, history: HistorySeed) -> None:
    at = (timezone.now() - timedelta(days=2)).replace(hour=9, minute=0, second=0, microsecond=0)
    history.attempts("demo", at, [("FetchPages", "failed"), ("FetchPages", "killed"), ("FetchPages", "done"),
                                  ("ParsePages", "done"), ("StoreItems", "failed"), ("StoreItems", "done"),
                                  ("RunCrawl", "done")])
    response = client.get("/crawl/?name=demo")
    assert cells(response)[at.date().isoformat()] == ("day-ok", f"{at.date()}: 1 tick, 1 done")
    assert response.context["ticks"] == 1
    assert response.content.decode().count('class="bar bar-done"') == 1


def test_the_trend_shows_the_last_100_ticks_however_many_attempts_they_took(
    client: Client, history: HistorySeed
) -> None:
    now = timezone.now().replace(second=0, microsecond=0)
    steps = [("FetchPages", "failed"), ("FetchPages", "done"), ("ParsePages", "failed"), ("ParsePages", "done"),
             ("StoreItems", "done"), ("RunCrawl", "done")]
    for i in range(110):  # 660 run records: more than the 400 the page used to read
        history.attempts("demo", now - timedelta(hours=110 - i), steps, seconds=5)
    history.attempts("demo", now - timedelta(minutes=2), [("FetchPages", "running")])  # not finished: not a bar
    response = client.get("/crawl/?name=demo")
    assert response.context["ticks"] == 100
    body = response.content.decode()
    assert "(last 100 finished ticks)" in body
    assert body.count('class="bar bar-done"') == 100


def test_the_calendar_days_are_the_users_days(client: Client, user: User, history: HistorySeed) -> None:
    # 20:30 UTC is 04:30 the next day in Taipei (UTC+8, no summer time).
    evening = (timezone.now() - timedelta(days=5)).replace(hour=20, minute=30, second=0, microsecond=0)
    history.tick("demo", evening, statuses={"StoreItems": "failed"})
    UserPreference.objects.update_or_create(user=user, defaults={"language": "", "time_zone": "Asia/Taipei"})
    try:
        client.force_login(user)
        response = client.get("/crawl/?name=demo")
    finally:
        UserPreference.objects.filter(user=user).delete()  # the user is the session's: leave it as found
    taipei = (evening + timedelta(hours=8)).date()
    assert cells(response)[taipei.isoformat()][0] == "day-failed"
    assert cells(response)[evening.date().isoformat()][0] == "day-none"
    assert "(ticks per day, Asia/Taipei)" in response.content.decode()
