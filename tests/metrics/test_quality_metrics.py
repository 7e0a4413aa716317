"""Data-quality series of /metrics: the newest tick of each crawl, from crawl_quality_latest.

StoreItems runs are written through the worker's code path (records.create_run + finish), whose
transaction keeps crawl_quality_latest; `promtool check metrics` lints the scrape.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import time_machine
from django.test import Client, override_settings
from history_seed import HistorySeed

from pipelines.runs import totals
from pipelines.runs.models import DONE, FAILED
from tests.metrics.test_promtool import promtool_check
from tests.metrics.world import STORE_STATS, T0, run, scrape


def quality(tick: datetime, items: int, description: float, verdict: str, drop_ok: bool) -> dict:
    return {**STORE_STATS, "items": items, "quality": {
        "tick": tick.strftime("%Y-%m-%dT%H:%M:00Z"), "items": items, "read": items,
        "coverage": {"title": 1.0, "description": description},
        "baseline": {"median": 40.0, "ticks": 3, "change": round((items - 40) / 40, 4)},
        "schema": {"checked": items, "invalid": 2, "ratio": round(2 / items, 4), "samples": []},
        "monitors": [{"monitor": "max_item_drop", "value": 0.5, "limit": 0.3, "ok": drop_ok},
                     {"monitor": "coverage.description", "value": description, "limit": 0.95,
                      "ok": description >= 0.95}],
        "violations": [] if verdict == "ok" else ["max_item_drop: ...", "coverage.description: ..."],
        "verdict": verdict}}


def value(text: str, name: str, **labels: str) -> float | None:
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    match = re.search(rf"^{name}\{{{re.escape(want)}\}} (\S+)$", text, re.M)
    return float(match.group(1)) if match else None


def seed(history: HistorySeed) -> None:
    t1, t2 = T0 - timedelta(hours=2), T0 - timedelta(hours=1)
    run(history, "StoreItems", DONE, t1, 2, "shop", quality(t1, 40, 1.0, "ok", True))
    run(history, "StoreItems", FAILED, t2, 2, "shop", quality(t2, 20, 0.0, "fail", False))
    # A backfill of an older tick, finished last: the newest tick's report stays the one shown.
    old = T0 - timedelta(days=3)
    run(history, "StoreItems", DONE, T0 - timedelta(minutes=5), 2, "shop", quality(old, 39, 1.0, "ok", True))
    run(history, "StoreItems", DONE, t1, 2, "blog", STORE_STATS)  # a run from before reports: no series


@pytest.mark.prometheus
def test_the_newest_tick_of_each_crawl_gives_coverage_and_violations(fresh: None, history: HistorySeed,
                                                                     anonymous: Client) -> None:
    seed(history)
    with time_machine.travel(T0, tick=False), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        text = scrape(anonymous)
    t2 = (T0 - timedelta(hours=1)).timestamp()
    assert value(text, "crawl_quality_tick_timestamp_seconds", crawl="shop") == t2
    assert value(text, "crawl_quality_items", crawl="shop") == 20
    assert value(text, "crawl_quality_item_change_ratio", crawl="shop") == -0.5
    assert value(text, "crawl_quality_coverage_ratio", crawl="shop", field="description") == 0.0
    assert value(text, "crawl_quality_coverage_ratio", crawl="shop", field="title") == 1.0
    assert value(text, "crawl_quality_invalid_ratio", crawl="shop") == 0.1
    assert value(text, "crawl_quality_violation", crawl="shop", monitor="max_item_drop") == 1.0
    assert value(text, "crawl_quality_violation", crawl="shop", monitor="coverage.description") == 1.0
    assert 'crawl="blog"' not in "\n".join(line for line in text.splitlines() if line.startswith("crawl_quality"))

    checked = promtool_check(text)
    assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr


def test_a_rebuild_of_the_totals_keeps_the_newest_report(fresh: None, history: HistorySeed,
                                                         anonymous: Client) -> None:
    seed(history)
    before = totals.read_totals(history.engine)
    with history.engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM crawl_quality_latest")
    totals.rebuild(history.engine)
    assert totals.read_totals(history.engine) == before
    with history.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT crawl, tick, items, verdict FROM crawl_quality_latest").all()
    assert rows == [("shop", (T0 - timedelta(hours=1)).timestamp(), 20, "fail")]


def test_a_history_without_the_table_still_serves_the_other_series(fresh: None, history: HistorySeed,
                                                                   anonymous: Client) -> None:
    seed(history)
    with history.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE crawl_quality_latest")  # a history the new workers have not touched yet
    with time_machine.travel(T0, tick=False), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        before = value(scrape(anonymous), "crawl_exporter_errors_total", part="history")
        text = scrape(anonymous)
    assert "crawl_items_stored_total" in text and value(text, "crawl_quality_items", crawl="shop") is None
    assert value(text, "crawl_exporter_errors_total", part="history") == before  # the history part did not fail

