"""A crawl tick through luigid leaves a run record per stage, and luigid shows progress and the record's link."""

from __future__ import annotations

import json
from typing import Any

import pytest

from pipelines.demo import site
from pipelines.runs.models import DONE
from tests.conftest import DemoSite, Luigid
from tests.runs.support import log_of, runs_where, task_list

TICK = "2026-11-21T0730"


@pytest.fixture(scope="module")
def tick(luigid: Luigid, demo_site: DemoSite) -> dict[str, dict[str, Any]]:
    """One RunCrawl tick of the demo site: {family: its run record}."""
    luigid.write_spec("runs-demo", demo_site.url)
    result = luigid.run("RunCrawl", "--crawl", "runs-demo", "--at", TICK)
    assert result.returncode == 0, result.stderr[-4000:]
    records = runs_where(luigid, crawl="runs-demo")
    return {r["family"]: r for r in records}


def test_every_stage_of_a_tick_has_one_done_record_with_its_stats(tick: dict[str, dict[str, Any]]) -> None:
    assert sorted(tick) == ["FetchPages", "ParsePages", "RunCrawl", "StoreItems"]
    for family, run in tick.items():
        assert (run["status"], run["attempt"], run["error_type"]) == (DONE, 1, None), family
        assert json.loads(run["params"]) == {"crawl": "runs-demo", "at": TICK, "overrides": "{}", "spec_path": ""}
        assert run["stats"], family
    fetch = json.loads(tick["FetchPages"]["stats"])
    assert fetch["fetched"] == site.site_pages(500) - 1  # the JS page is not followed
    assert fetch["fetched"] + fetch["failed"] + fetch["skipped"] == fetch["discovered"]
    assert json.loads(tick["ParsePages"]["stats"])["items"] == 500
    assert json.loads(tick["StoreItems"]["stats"])["new"] == 500
    summary = json.loads(tick["RunCrawl"]["stats"])
    assert summary["fetch"]["fetched"] == fetch["fetched"] and summary["store"]["items"] == 500


def test_a_stage_log_holds_its_own_lines(luigid: Luigid, tick: dict[str, dict[str, Any]]) -> None:
    messages = [line["message"] for line in log_of(luigid, tick["FetchPages"]["id"])]
    assert any(m.startswith("fetching runs-demo") for m in messages)
    assert any(m.startswith("fetch stats {") for m in messages)
    assert not any(m.startswith("parse stats") for m in messages)  # ParsePages' line is in its own run


def test_luigids_task_list_shows_status_message_progress_and_tracking_url(
        luigid: Luigid, tick: dict[str, dict[str, Any]]) -> None:
    tasks = task_list(luigid, "DONE", "FetchPages")
    task = tasks[tick["FetchPages"]["task_id"]]
    assert task["status_message"].startswith(f"fetched: {site.site_pages(500) - 1:,} pages, ")
    assert ", 0 failed" in task["status_message"]
    assert task["progress_percentage"] == 100
    assert task["tracking_url"] == f"http://127.0.0.1:8000/runs/{tick['FetchPages']['id']}/"
    store = task_list(luigid, "DONE", "StoreItems")[tick["StoreItems"]["task_id"]]
    assert store["tracking_url"] == f"http://127.0.0.1:8000/runs/{tick['StoreItems']['id']}/"


def test_the_same_tick_again_runs_nothing_and_records_nothing(luigid: Luigid, tick: dict[str, dict[str, Any]]) -> None:
    again = luigid.run("RunCrawl", "--crawl", "runs-demo", "--at", TICK)
    assert again.returncode == 0, again.stderr[-4000:]
    assert len(runs_where(luigid, crawl="runs-demo")) == 4
