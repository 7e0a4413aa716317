"""Issue 14's layout-change scenario, as an operator meets it: a scheduled crawl whose site is redesigned.

The trigger daemon (in this process, on the test's webmon DB, with Django's locmem mail
backend) starts each tick as `python -m luigi ... RunCrawl` against a real luigid; the demo
site switches to its v2 layout (--layout-file) between tick 1 and tick 2: the description
leaves the spec's selector and half the products vanish. Then what a user would look at:
the run records, the notices (email, exactly once per tick), webmon's pages and /metrics,
all from the luigid's history DB.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from django.core import mail
from django.test import Client, override_settings

from tests.conftest import ROOT, DemoSite, Luigid
from tests.quality_site import MONITORS, PRODUCTS
from webmon.scheduling.daemon import Trigger
from webmon.scheduling.models import Channel, Schedule, ScheduledRun, ScheduleEvent

T1 = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
T2 = T1 + timedelta(hours=1)
VIOLATIONS = [
    "max_item_drop: 20 items, 50% fewer than the median of the last 1 ticks (40); at most 30% allowed",
    "coverage.description: 0% of the items have description, less than 95%",
]


@pytest.fixture
def luigid_history(luigid: Luigid, history_at) -> Iterator[None]:
    """webmon's history alias (the daemon's and the pages') on the luigid's history DB."""
    with history_at(str(luigid.home / "history.db")):
        yield


@pytest.fixture
def outbox() -> Iterator[list]:
    mail.outbox = []
    yield mail.outbox


class Scenario:
    def __init__(self, luigid: Luigid, site: DemoSite, layout: Path, tmp: Path, crawl: str, mode: str,
                 retries: int = 0) -> None:
        self.luigid, self.layout, self.crawl = luigid, layout, crawl
        spec = luigid.write_spec(crawl, site.url)
        spec.write_text(spec.read_text() + MONITORS.format(mode=mode))
        Schedule.objects.all().delete()
        self.schedule = Schedule.objects.create(name=f"{crawl}-hourly", crawl=crawl, cron="0 * * * *",
                                                start_at=T1 - timedelta(days=1), enabled=False, retries=retries,
                                                retry_delay_seconds=0)
        self.schedule.channels.set([Channel.objects.get_or_create(name="ops", kind="email",
                                                                  target="ops@example.com")[0]])
        self.trigger = Trigger(name=f"quality-test:{crawl}", output_dir=tmp / "runs",
                               command=self.command, wait_seconds=0.5)

    def command(self, run: ScheduledRun) -> list[str]:
        # The daemon's own command line, with the test luigid's luigi.cfg for the child.
        with override_settings(LUIGID_URL=self.luigid.url):
            line = self.trigger.default_command(run)
        return ["env", f"LUIGI_CONFIG_PATH={self.luigid.config}", f"PYTHONPATH={ROOT}", *line]

    def tick(self, at: datetime, layout: str, seconds: float = 120) -> ScheduledRun:
        """One manual run of the tick, with retries, to its final state; then the notify step, twice."""
        self.layout.write_text(f"{layout}\n")
        run = ScheduledRun.objects.create(schedule=self.schedule, logical_time=at, trigger=ScheduledRun.MANUAL)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            now = datetime.now(UTC)
            self.trigger.start(now)
            self.trigger.reap(now)
            run.refresh_from_db()
            if run.state in ScheduledRun.FINAL and not self.trigger.children:
                break
            time.sleep(0.1)
        assert run.state in ScheduledRun.FINAL, (run.state, run.reason)
        self.trigger.notify(datetime.now(UTC))
        self.trigger.notify(datetime.now(UTC))  # nothing left to send
        self.layout.write_text("v1\n")
        return run

    def records(self, at: datetime) -> list[dict]:
        engine = sa.create_engine(self.luigid.history_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(sa.text("SELECT id, family, status, params, stats FROM crawl_runs "
                                            "WHERE crawl = :c ORDER BY id"), {"c": self.crawl}).mappings()
                found = [dict(r) for r in rows]
        finally:
            engine.dispose()
        tick = at.strftime("%Y-%m-%dT%H%M")
        return [{**r, "stats": json.loads(r["stats"] or "null")} for r in found
                if json.loads(r["params"])["at"] == tick]


def metric(body: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", body, re.M)
    return float(match.group(1)) if match else None


def test_a_redesign_warns_once_and_shows_on_the_pages_and_in_metrics(
        luigid: Luigid, layout_site: DemoSite, layout_file: Path, tmp_path: Path, luigid_history: None, client: Client,
        anonymous: Client, outbox: list) -> None:
    world = Scenario(luigid, layout_site, layout_file, tmp_path, "shop-warn", "warn")
    first = world.tick(T1, "v1")
    assert first.state == ScheduledRun.SUCCESS and outbox == []  # new -> up sends nothing
    second = world.tick(T2, "v2")
    assert second.state == ScheduledRun.SUCCESS, second.reason  # warn: the tick is done

    (store,) = [r for r in world.records(T2) if r["family"] == "StoreItems"]
    assert store["status"] == "done" and store["stats"]["warnings"] == VIOLATIONS

    # One notice for the tick, to the schedule's channel, listing each violation.
    (event,) = ScheduleEvent.objects.filter(schedule=world.schedule, reason="data_quality")
    assert event.run_id == second.pk and event.old_state == event.new_state == "up" and event.notified_at
    (message,) = outbox
    assert message.to == ["ops@example.com"]
    assert message.subject == "[crawlops] shop-warn-hourly: data quality, 2 monitors broken (tick done with warnings)"
    for sentence in VIOLATIONS:
        assert f"Violation: {sentence}" in message.body
    assert "Tick: 2026-11-21 08:00 UTC" in message.body
    assert world.schedule.events.count() == 2  # new -> up at tick 1, and this one

    # /metrics: the newest tick's coverage and violations, per field and monitor.
    body = anonymous.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert metric(body, "crawl_quality_coverage_ratio", crawl="shop-warn", field="description") == 0.0
    assert metric(body, "crawl_quality_coverage_ratio", crawl="shop-warn", field="title") == 1.0
    assert metric(body, "crawl_quality_violation", crawl="shop-warn", monitor="coverage.description") == 1.0
    assert metric(body, "crawl_quality_violation", crawl="shop-warn", monitor="max_item_drop") == 1.0
    assert metric(body, "crawl_quality_violation", crawl="shop-warn", monitor="min_items") == 0.0
    assert metric(body, "crawl_quality_items", crawl="shop-warn") == PRODUCTS // 2
    assert metric(body, "crawl_quality_item_change_ratio", crawl="shop-warn") == -0.5
    assert metric(body, "crawl_quality_tick_timestamp_seconds", crawl="shop-warn") == T2.timestamp()

    # The crawl page: both ticks in the charts, the drop in the item bars and the coverage grid.
    page = client.get("/crawl/", {"name": "shop-warn"})
    html = page.content.decode()
    assert page.context["quality_ticks"] == 2
    bars = page.context["quality_items"].bars
    assert [b.css for b in bars] == ["bar-items", "bar-warn"]
    assert float(bars[1].h) < float(bars[0].h) / 2 + 1  # half the items: half the bar
    cells = {c.title.split(": ", 1)[1]: c.css for c in page.context["coverage"].cells if "description" in c.title}
    assert sorted(cells.values()) == ["cov-bad", "cov-full"]
    assert 'id="coverage-grid"' in html and "description 0.0%" in html and "description 100.0%" in html
    assert 'data-verdict="warn"' in html and VIOLATIONS[1] in html

    # The run page of tick 2's StoreItems: the quality block with each monitor.
    run_page = client.get(f"/runs/{store['id']}/").content.decode()
    assert 'id="quality-verdict" data-verdict="warn">done with warnings' in run_page
    assert 'data-field="description"><td>description</td><td class="ratio">0%</td>' in run_page
    assert "change -50%" in run_page and VIOLATIONS[0] in run_page

    # The overview: the crawl's newest tick is done with warnings.
    overview = client.get("/")
    (row,) = [r for r in overview.context["crawls"] if r.name == "shop-warn"]
    assert row.last_status == "warned"
    assert 'class="status status-warned">warned</span>' in overview.content.decode()


def test_a_failing_monitor_fails_the_tick_after_a_retry_and_notices_data_quality_once(
        luigid: Luigid, layout_site: DemoSite, layout_file: Path, tmp_path: Path, luigid_history: None, anonymous: Client,
        outbox: list) -> None:
    world = Scenario(luigid, layout_site, layout_file, tmp_path, "shop-fail", "fail", retries=1)
    assert world.tick(T1, "v1").state == ScheduledRun.SUCCESS
    second = world.tick(T2, "v2")
    assert second.state == ScheduledRun.FAILED and second.attempts == 2, second.reason
    assert second.reason.startswith("exit code 30: a task failed: pipelines.quality.DataQualityError: data quality of "
                                    "crawl 'shop-fail': 2 monitors broken"), second.reason

    runs = world.records(T2)
    assert [(r["family"], r["status"]) for r in runs if r["family"] in ("StoreItems", "RunCrawl")] == [
        ("StoreItems", "failed"), ("RunCrawl", "failed")]  # attempt 1 stored then failed; attempt 2 re-judged

    (event,) = ScheduleEvent.objects.filter(schedule=world.schedule, reason="data_quality")
    assert event.run_id == second.pk and event.detail.split("\n") == ["fail", *VIOLATIONS]
    # Two notices: the data quality of the tick (once, though two attempts ended) and the schedule down.
    subjects = sorted(m.subject for m in outbox)
    assert subjects == ["[crawlops] shop-fail-hourly is DOWN: failed",
                        "[crawlops] shop-fail-hourly: data quality, 2 monitors broken (tick failed)"]

    body = anonymous.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert metric(body, "crawl_quality_violation", crawl="shop-fail", monitor="coverage.description") == 1.0
    assert metric(body, "crawl_quality_coverage_ratio", crawl="shop-fail", field="description") == 0.0
