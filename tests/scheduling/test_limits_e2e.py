"""A scheduled crawl that stops at max_pages, as an operator meets it (issue 17).

The demo site has more pages than the spec's max_pages. The trigger daemon (in this process, on
the test's webmon DB, with Django's locmem mail backend) starts each tick as `python -m luigi ...
RunCrawl` against a real luigid. What a user looks at: the run records and their summary line,
the notice (email, once per tick), the run page, the overview and /metrics.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from django.test import Client

from tests.conftest import DemoSite, Luigid
from tests.scheduling.test_quality_e2e import Scenario, luigid_history, metric, outbox  # noqa: F401 - fixtures
from webmon.scheduling.models import ScheduledRun, ScheduleEvent

T1 = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)
MAX_PAGES = 30


class LimitScenario(Scenario):
    """The data-quality scenario's daemon and schedule, on a spec with a small max_pages."""

    def __init__(self, luigid: Luigid, site: DemoSite, tmp: Path, crawl: str, on_limit: str, retries: int = 0) -> None:
        super().__init__(luigid, site, tmp / "layout", tmp, crawl, "warn", retries=retries)
        luigid.write_spec(crawl, site.url, max_pages=MAX_PAGES, on_limit=on_limit)

    def sentence(self, at: datetime) -> tuple[dict, str]:
        (fetch,) = [r for r in self.records(at) if r["family"] == "FetchPages"]
        (hit,) = fetch["stats"]["limits"]
        return fetch, hit["sentence"]


def test_a_tick_stopped_by_max_pages_warns_once_and_shows_on_the_pages_and_in_metrics(
        luigid: Luigid, demo_site: DemoSite, tmp_path: Path, luigid_history: None, client: Client,  # noqa: F811
        anonymous: Client, outbox: list) -> None:  # noqa: F811
    world = LimitScenario(luigid, demo_site, tmp_path, "capped-warn", "warn")
    run = world.tick(T1, "v1")
    assert run.state == ScheduledRun.SUCCESS, run.reason  # warn: the tick is done

    fetch, sentence = world.sentence(T1)
    assert sentence.startswith(f"max_pages: the crawl reached its limit of {MAX_PAGES} pages; ")
    (crawl,) = [r for r in world.records(T1) if r["family"] == "RunCrawl"]
    assert crawl["status"] == "done" and crawl["stats"]["warnings"] == [sentence]
    skipped = fetch["stats"]["skipped_by_reason"]["max_pages"]
    assert crawl["stats"]["summary"].endswith(f"; limits: max_pages {skipped} URLs (warn)")

    # One notice for the tick, to the schedule's channel, with the sentence.
    (event,) = ScheduleEvent.objects.filter(schedule=world.schedule, reason="limit")
    assert event.run_id == run.pk and event.old_state == event.new_state and event.notified_at
    assert event.detail.split("\n") == ["warn", sentence]
    (message,) = [m for m in outbox if "limit" in m.subject]
    assert message.to == ["ops@example.com"]
    assert message.subject == "[crawlops] capped-warn-hourly: the crawl reached 1 limit (tick done with warnings)"
    assert f"Limit: {sentence}" in message.body and "Tick: 2026-11-21 07:00 UTC" in message.body
    world.trigger.notify(datetime.now(UTC))
    assert len([m for m in outbox if "limit" in m.subject]) == 1

    # The run page of RunCrawl and of FetchPages: the warning in their stats (a row of the stats table).
    for record in (crawl, fetch):
        page = client.get(f"/runs/{record['id']}/").content.decode()
        assert re.search(r"<tr[^>]*><th>[Ww]arnings</th>", page) and sentence in page

    # The overview: the crawl's newest tick is done with warnings.
    (row,) = [r for r in client.get("/").context["crawls"] if r.name == "capped-warn"]
    assert row.last_status == "warned"

    body = anonymous.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert metric(body, "crawl_limit_hits_total", crawl="capped-warn", limit="max_pages") == 1.0
    assert metric(body, "crawl_limit_hits_total", crawl="capped-warn", limit="max_depth") == 0.0
    assert metric(body, "crawl_limit_skipped_urls_total", crawl="capped-warn", limit="max_pages") == skipped


def test_with_on_limit_fail_the_scheduled_tick_fails_and_notices_the_limit_once(
        luigid: Luigid, demo_site: DemoSite, tmp_path: Path, luigid_history: None, anonymous: Client,  # noqa: F811
        outbox: list) -> None:  # noqa: F811
    world = LimitScenario(luigid, demo_site, tmp_path, "capped-fail", "fail", retries=1)
    run = world.tick(T1, "v1")
    assert run.state == ScheduledRun.FAILED and run.attempts == 2, run.reason
    assert run.reason.startswith("exit code 30: a task failed: pipelines.exceptions.CrawlLimitError: crawl "
                                 "'capped-fail' reached 1 limit with on_limit = \"fail\""), run.reason
    assert [(r["family"], r["status"]) for r in world.records(T1)] == [
        ("FetchPages", "done"), ("ParsePages", "done"), ("StoreItems", "done"), ("RunCrawl", "failed"),
        ("RunCrawl", "failed")]  # attempt 2 judged the stored fetch again

    _, sentence = world.sentence(T1)
    (event,) = ScheduleEvent.objects.filter(schedule=world.schedule, reason="limit")
    assert event.run_id == run.pk and event.detail.split("\n") == ["fail", sentence]
    assert sorted(m.subject for m in outbox) == [
        "[crawlops] capped-fail-hourly is DOWN: failed",
        "[crawlops] capped-fail-hourly: the crawl reached 1 limit (tick failed)"]

    body = anonymous.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert metric(body, "crawl_limit_hits_total", crawl="capped-fail", limit="max_pages") == 1.0
