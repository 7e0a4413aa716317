"""The overview as an operator reads it (Healthchecks' dashboard): schedule states, next runs, trouble first.

A small named world: crawls in the history DB, schedules in webmon's DB (tests/scheduling/schedule_world.py).
Times are relative to the real clock: the page reads it, and nothing here depends on how long a step takes.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connections
from django.test import Client, override_settings
from django.utils import timezone
from history_seed import HistorySeed

from tests.scheduling.schedule_world import fresh_fixture, make_schedule  # noqa: F401
from webmon.scheduling.models import Schedule

CLOSED_PORT_URL = "http://127.0.0.1:9"
pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(autouse=True)
def luigid_down() -> Iterator[None]:
    with override_settings(LUIGID_URL=CLOSED_PORT_URL):
        yield


def minute(dt: datetime) -> datetime:
    return dt.astimezone(UTC).replace(second=0, microsecond=0)


def cron_at(tick: datetime, tz: str) -> str:
    """A daily cron expression, read in `tz`, that fires at `tick`."""
    local = tick.astimezone(ZoneInfo(tz))
    return f"{local.minute} {local.hour} * * *"


@dataclass
class World:
    now: datetime
    fresh_due: datetime  # the next tick of crawl fresh's schedule, about 10 minutes from now


@pytest.fixture
def world(history: HistorySeed) -> World:
    """Eight crawls and two maintenance schedules, one in each group of the overview.

    mail: schedule down (its newest tick done: a manual rerun) · news: schedule late · shop: no schedule,
    newest tick failed · books: schedule up, a tick running · docs: two schedules, up and new ·
    alpha: schedule paused · fresh: a new schedule, due in 10 minutes, never run · zoo: no schedule, done.
    backup-history (BackupDatabase) is down, prune-history (PruneHistory) up.
    """
    now = timezone.now()
    hour_ago = minute(now - timedelta(hours=1))
    for crawl in ("mail", "news", "docs", "alpha", "zoo", "books"):
        history.tick(crawl, hour_ago)
    history.tick("shop", hour_ago, statuses={"ParsePages": "failed"})
    history.tick("books", minute(now), statuses={"FetchPages": "running"}, heartbeat_at=now)
    make_schedule("mail-hourly", crawl="mail", state=Schedule.DOWN)
    make_schedule("news-hourly", crawl="news", state=Schedule.LATE)
    make_schedule("books-hourly", crawl="books", state=Schedule.UP)
    make_schedule("docs-daily", crawl="docs", state=Schedule.UP, cron="0 3 * * *")
    make_schedule("docs-hourly", crawl="docs", state=Schedule.NEW)
    make_schedule("alpha-hourly", crawl="alpha", state=Schedule.PAUSED, enabled=False)
    due = minute(now + timedelta(minutes=10))
    make_schedule("fresh-daily", crawl="fresh", cron=cron_at(due, "Asia/Taipei"), timezone="Asia/Taipei")
    make_schedule("backup-history", task=Schedule.BACKUP, crawl="", task_params={"db": "history"},
                  state=Schedule.DOWN)
    make_schedule("prune-history", task=Schedule.PRUNE, crawl="", task_params={"older_than_days": 90},
                  state=Schedule.UP)
    return World(now, due)


def rows_of(body: str) -> list[str]:
    return re.findall(r'<tr class="crawl-row" data-crawl="([^"]+)"', body)


def cell(body: str, crawl: str, css: str) -> str:
    """The text of a cell of a crawl's row (tags removed)."""
    row = re.search(rf'<tr class="crawl-row" data-crawl="{re.escape(crawl)}".*?</tr>', body, re.S)
    assert row, crawl
    found = re.search(rf'<td class="{css}">(.*?)</td>', row.group(0), re.S)
    assert found, (crawl, css)
    return " ".join(re.sub(r"<[^>]+>", "", found.group(1)).split())


def test_a_crawl_with_a_schedule_due_in_10_minutes_shows_that_next_run_and_state_new(
    client: Client, world: World
) -> None:
    body = client.get("/").content.decode()
    assert "fresh" in rows_of(body)  # scheduled, never run: a row all the same
    assert cell(body, "fresh", "next-run").startswith(f"{world.fresh_due:%Y-%m-%d %H:%M} UTC (in ")
    assert cell(body, "fresh", "schedule-state") == "new"
    assert cell(body, "fresh", "last-run") == "—"


def test_crawls_are_ordered_by_trouble_down_first_paused_after_up(client: Client, world: World) -> None:
    body = client.get("/").content.decode()
    assert rows_of(body) == ["mail", "news", "shop", "books", "docs", "alpha", "fresh", "zoo"]
    groups = re.findall(r'<tr class="crawl-row" data-crawl="[^"]+" data-group="([^"]+)"', body)
    assert groups == ["down", "late", "failing", "running", "up", "paused", "other", "other"]


def test_each_row_shows_its_schedule_state_and_next_run(client: Client, world: World) -> None:
    body = client.get("/").content.decode()
    states = {crawl: cell(body, crawl, "schedule-state") for crawl in rows_of(body)}
    assert states == {"mail": "down", "news": "late", "shop": "—", "books": "up", "docs": "up 2 schedules",
                      "alpha": "paused", "fresh": "new", "zoo": "—"}
    assert cell(body, "alpha", "next-run") == "paused"
    assert cell(body, "zoo", "next-run") == "not scheduled"
    assert cell(body, "shop", "next-run") == "not scheduled"
    next_hour = minute(world.now).replace(minute=0) + timedelta(hours=1)
    assert cell(body, "mail", "next-run").startswith(f"{next_hour:%Y-%m-%d %H:%M} UTC")
    # docs: the earliest of its two schedules (hourly) comes first.
    assert cell(body, "docs", "next-run").startswith(f"{next_hour:%Y-%m-%d %H:%M} UTC")


def test_a_crawl_with_several_schedules_shows_the_worst_and_says_so(client: Client, world: World) -> None:
    Schedule.objects.filter(name="docs-hourly").update(state=Schedule.DOWN)
    body = client.get("/").content.decode()
    assert rows_of(body)[:2] == ["docs", "mail"]  # two down crawls, by name
    assert 'title="the worst of 2 schedules: docs-daily up, docs-hourly down"' in body
    assert 'title="schedule mail-hourly down"' in body


def test_the_badges_have_the_colour_of_their_state(client: Client, world: World) -> None:
    body = client.get("/").content.decode()
    badges = {state: css for css, state in re.findall(r'<span class="status ?([^"]*) schedule-state" '
                                                      r'data-state="([^"]+)"', body)}
    assert badges == {"down": "status-failed", "late": "status-stale", "up": "status-done", "paused": "",
                      "new": ""}


def test_the_counts_line_names_every_group_and_links_to_its_rows(client: Client, world: World) -> None:
    body = client.get("/").content.decode()
    counts = re.search(r'<p id="state-counts".*?</p>', body, re.S)
    assert counts
    text = re.sub(r"<[^>]+>", "", counts.group(0))
    # down: mail and backup-history; up: docs and prune-history (books runs: running comes first)
    assert text == "2 down · 1 late · 1 failing · 1 running · 2 up · 1 paused · 2 other"
    assert 'href="?show=down"' in counts.group(0)
    down = client.get("/?show=down").content.decode()
    assert rows_of(down) == ["mail"]
    assert re.findall(r'<tr class="other-schedule" data-schedule="([^"]+)"', down) == ["backup-history"]
    assert 'id="show-all"' in down
    assert "2 down · 1 late" in re.sub(r"<[^>]+>", "", down)  # the counts stay those of every row


def test_a_filter_with_no_rows_says_so_and_an_unknown_one_shows_everything(client: Client, world: World) -> None:
    Schedule.objects.filter(name="news-hourly").delete()
    body = client.get("/?show=late").content.decode()
    assert 'id="crawls-none-shown"' in body and rows_of(body) == []
    assert len(rows_of(client.get("/?show=bogus").content.decode())) == 8


def test_other_schedules_show_their_state_and_next_run_down_first(client: Client, world: World) -> None:
    body = client.get("/").content.decode()
    section = re.search(r'<section id="other-schedules-section">.*?</section>', body, re.S)
    assert section
    rows = re.findall(r'<tr class="other-schedule" data-schedule="([^"]+)" data-group="([^"]+)"', section.group(0))
    assert rows == [("backup-history", "down"), ("prune-history", "up")]
    assert "<code>BackupDatabase</code>" in section.group(0)
    next_hour = minute(world.now).replace(minute=0) + timedelta(hours=1)
    assert f"{next_hour:%Y-%m-%d %H:%M} UTC" in section.group(0)


def test_a_paused_schedule_of_another_task_shows_paused(client: Client, world: World) -> None:
    Schedule.objects.filter(name="backup-history").update(state=Schedule.PAUSED, enabled=False)
    body = client.get("/").content.decode()
    row = re.search(r'<tr class="other-schedule" data-schedule="backup-history".*?</tr>', body, re.S)
    assert row and re.search(r'<td class="next-run">\s*paused\s*</td>', row.group(0))


def test_the_next_run_is_in_the_users_time_zone(client: Client, world: World) -> None:
    from webmon.monitor.preferences import SESSION_TIME_ZONE

    session = client.session
    session[SESSION_TIME_ZONE] = "Asia/Taipei"  # what logging in copies from the user's settings
    session.save()
    body = client.get("/").content.decode()
    local = world.fresh_due.astimezone(ZoneInfo("Asia/Taipei"))
    assert cell(body, "fresh", "next-run").startswith(f"{local:%Y-%m-%d %H:%M} UTC+08:00")


def test_its_queries_stay_fixed_with_schedules(client: Client, world: World, num_queries) -> None:
    with num_queries(default=3, history=8):
        # default: 1. the session, 2. the user, 3. every schedule (one SELECT, by name)
        # history: as test_overview.py says (crawl names, newest runs, last successes, 7-day ticks (3:
        # done last stages, runs not done, every run of their ticks), failures, the newest done ticks' stats)
        response = client.get("/")
    assert response.status_code == 200


def test_with_the_history_unreadable_the_schedules_still_show(client: Client, world: World, history_at,
                                                               tmp_path) -> None:
    broken = tmp_path / "not-a-db.db"
    broken.write_bytes(b"this is not a database" * 100)
    with history_at(str(broken)):
        body = client.get("/").content.decode()
    assert 'id="banner-history"' in body
    # Only the scheduled crawls are known without the history: their schedule states still order them.
    assert rows_of(body) == ["mail", "news", "books", "docs", "alpha", "fresh"]
    assert cell(body, "fresh", "next-run").startswith(f"{world.fresh_due:%Y-%m-%d %H:%M} UTC")
    assert 'data-schedule="backup-history"' in body


def test_with_the_schedules_unreadable_the_history_still_shows(client: Client, world: World) -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("ALTER TABLE scheduling_schedule RENAME TO scheduling_schedule_away")
    try:
        response = client.get("/")
    finally:
        with connections["default"].cursor() as cursor:
            cursor.execute("ALTER TABLE scheduling_schedule_away RENAME TO scheduling_schedule")
    body = response.content.decode()
    assert response.status_code == 200
    assert 'id="banner-webmon"' in body and "schedules are not shown" in body
    assert rows_of(body) == ["shop", "books", "alpha", "docs", "mail", "news", "zoo"]  # failing, running, other
    assert 'id="other-schedules-section"' not in body
