"""The charts as the crawl and run pages draw them: axes with labelled ticks, and a title on every bar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from django.utils import timezone
from history_seed import HistorySeed
from lxml import html

from webmon.monitor.models import UserPreference

AT = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def luigid_down() -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield
    timezone.deactivate()  # a page in another zone activates it in this thread


def svg(body: bytes, svg_id: str) -> html.HtmlElement:
    found = html.fromstring(body).xpath(f'//svg[@id="{svg_id}"]')
    assert found, f"no svg#{svg_id} on the page"
    return found[0]


def texts(chart: html.HtmlElement, css: str) -> list[str]:
    """The visible text of the chart's <text class=css> elements (without their <title>)."""
    return [(t.text or "").strip() for t in chart.xpath(f'.//text[contains(@class, "{css}")]')]


def titles(chart: html.HtmlElement, css: str) -> list[str]:
    return [r.findtext("title") for r in chart.xpath(f'.//rect[contains(@class, "{css}")]')]


def test_the_crawl_pages_bar_charts_have_a_scale_times_and_titled_bars(client: Client, history: HistorySeed) -> None:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    for h in range(30):
        history.tick("demo", now - timedelta(hours=30 - h), seconds=20.0 + h)
    body = client.get("/crawl/?name=demo").content

    trend = svg(body, "duration-trend")
    # A tick takes 3 stages of 20-49 s, 0.25 s apart, plus the 0.5 s RunCrawl: at most about 2 min 30 s.
    assert texts(trend, "y-label")[:3] == ["0 s", "1 min", "2 min"]
    assert len(trend.xpath('.//line[@class="gridline"]')) == len(texts(trend, "y-label")) >= 3
    hours = texts(trend, "x-label")
    assert 3 <= len(hours) <= 6 and hours[-1] == (now - timedelta(hours=1)).strftime("%H:%M")
    assert texts(trend, "x-date")[0]  # the first label has the date under it
    bars = titles(trend, "bar")
    assert len(bars) == 30
    newest = now - timedelta(hours=1)
    assert bars[-1] == f"{newest:%Y-%m-%d %H:%M} UTC: done, 2 min 28 s"  # 3 stages of 49 s, 0.25 s apart, a 0.5 s wrapper
    assert all(title and " UTC: done, " in title for title in bars)

    items = svg(body, "items-stored")
    assert texts(items, "y-label") == ["0", "50", "100"]
    assert all(t.endswith("100 items, 10 new, 5 changed") for t in titles(items, "bar"))
    assert "Times in UTC" in body.decode()


def test_a_crawl_page_in_another_zone_labels_its_times_there(webmon_db: None, history: HistorySeed) -> None:
    now = timezone.now().replace(minute=0, second=0, microsecond=0)
    history.tick("demo", now - timedelta(hours=1))
    user, _ = User.objects.get_or_create(username="charts-in-taipei")  # webmon's test DB is kept: its own user
    UserPreference.objects.update_or_create(user=user, defaults={"language": "en", "time_zone": "Asia/Taipei"})
    client = Client()
    client.force_login(user)  # the preference is read when the user logs in
    body = client.get("/crawl/?name=demo").content
    trend = svg(body, "duration-trend")
    assert texts(trend, "x-label") == [f"{now + timedelta(hours=7):%H:%M}"]  # an hour ago, 8 hours ahead
    label = trend.xpath('.//text[@class="x-label"]')[0]
    assert label.findtext("title") == f"{now - timedelta(hours=1):%Y-%m-%d %H:%M:%S} UTC"
    assert "Times in UTC+08:00" in body.decode()


def test_the_gantt_has_a_clock_axis_and_a_bar_for_every_attempt(client: Client, history: HistorySeed) -> None:
    first = history.tick("demo", AT, statuses={"ParsePages": "failed"}, seconds=40.0, wrapper=False)
    retry = history.run(family="ParsePages", at=AT, started_at=AT + timedelta(minutes=2), seconds=40.0, attempt=2)
    history.run(family="StoreItems", at=AT, started_at=AT + timedelta(seconds=161), seconds=19.0)
    body = client.get(f"/runs/{first['ParsePages']}/").content
    gantt = svg(body, "chain-gantt")
    rows = {g.get("data-family"): g for g in gantt.xpath('.//g[contains(@class, "gantt-row")]')}
    assert list(rows) == ["FetchPages", "ParsePages", "StoreItems"]
    assert [r.findtext("title") for r in rows["FetchPages"].xpath(".//rect")] == [
        "FetchPages: 2026-03-01 07:30:00 → 07:30:40 UTC (40 s), done"]
    parse = rows["ParsePages"].xpath(".//rect")
    assert [r.findtext("title") for r in parse] == [
        "ParsePages, attempt 1: 2026-03-01 07:30:40 → 07:31:20 UTC (40 s), failed",
        "ParsePages, attempt 2: 2026-03-01 07:32:00 → 07:32:40 UTC (40 s), done",
    ]
    assert "gantt-earlier" in parse[0].get("class") and "gantt-earlier" not in parse[1].get("class")
    assert [a.get("href") for a in rows["ParsePages"].xpath(".//a")] == [
        f"/runs/{first['ParsePages']}/", f"/runs/{retry}/"]
    # The bars sit on one clock: 07:30:00 to 07:33:00, a label every minute, the first with the date.
    assert [(r.get("x"), r.get("width")) for r in parse] == [("22.36%", "22.22%"), ("66.67%", "22.22%")]
    assert texts(gantt, "x-label") == ["07:30", "07:31", "07:32", "07:33"]
    assert texts(gantt, "x-date") == ["2026-03-01"]
    assert not gantt.xpath('.//*[@id="gantt-now"]')


def test_a_running_ticks_gantt_marks_now(client: Client, history: HistorySeed) -> None:
    start = timezone.now().replace(microsecond=0) - timedelta(minutes=3)
    ids = history.tick("demo", start, statuses={"ParsePages": "running"}, seconds=60.0, heartbeat_at=timezone.now())
    gantt = svg(client.get(f"/runs/{ids['ParsePages']}/").content, "chain-gantt")
    assert gantt.xpath('.//line[@id="gantt-now"]') and texts(gantt, "now-label") == ["now"]
    title = gantt.xpath('.//g[@data-family="ParsePages"]//rect')[0].findtext("title")
    assert title.startswith(f"ParsePages: {start + timedelta(seconds=60.25):%Y-%m-%d %H:%M:%S} → now (")
    assert title.endswith("so far), running")
