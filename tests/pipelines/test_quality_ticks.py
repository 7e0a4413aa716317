"""Data-quality monitors through the real luigi CLI and luigid: a site redesign between two ticks.

The demo site reads its layout from a file at each request (--layout-file): tick 1 crawls
layout v1, then the file says v2 (the description moves out of the spec's selector, the
even-numbered products vanish) and tick 2 crawls that. The spec's [monitors] judge tick 2.
"""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import DemoSite, Luigid
from tests.quality_site import MONITORS, PRODUCTS

TICK1, TICK2 = "2026-11-21T0700", "2026-11-21T0800"


def rows(url: str, sql: str, **params: object) -> list[dict]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [dict(r) for r in conn.execute(sa.text(sql), params).mappings()]
    finally:
        engine.dispose()


def records(luigid: Luigid, crawl: str) -> list[dict]:
    found = rows(luigid.history_url, "SELECT id, family, status, params, stats, error_type, error_message "
                                     "FROM crawl_runs WHERE crawl = :c ORDER BY id", c=crawl)
    for row in found:
        row["params"] = json.loads(row["params"])
        row["stats"] = json.loads(row["stats"]) if row["stats"] else None
    return found


def two_ticks(luigid: Luigid, site: DemoSite, layout: Path, crawl: str, mode: str) -> tuple:
    spec = luigid.write_spec(crawl, site.url)
    spec.write_text(spec.read_text() + MONITORS.format(mode=mode))
    layout.write_text("v1\n")
    first = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK1)
    assert first.returncode == 0, first.stderr[-3000:]
    layout.write_text("v2\n")
    second = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK2)
    layout.write_text("v1\n")
    return first, second


def stores(luigid: Luigid, crawl: str, tick: str) -> list[dict]:
    return [r for r in records(luigid, crawl) if r["family"] == "StoreItems" and r["params"]["at"] == tick]


def test_a_redesign_warns_lists_the_violations_and_keeps_the_items(luigid: Luigid, layout_site: DemoSite,
                                                                    layout_file: Path) -> None:
    _, second = two_ticks(luigid, layout_site, layout_file, "quality-warn", "warn")
    assert second.returncode == 0, second.stderr[-3000:]  # warn: the tick is done

    (good,) = stores(luigid, "quality-warn", TICK1)
    assert good["status"] == "done" and good["stats"]["quality"]["verdict"] == "ok"
    assert good["stats"]["quality"]["coverage"]["description"] == 1.0 and "warnings" not in good["stats"]
    (warned,) = stores(luigid, "quality-warn", TICK2)
    quality = warned["stats"]["quality"]
    assert warned["status"] == "done" and quality["verdict"] == "warn"
    assert quality["items"] == PRODUCTS // 2 and quality["coverage"]["description"] == 0.0
    assert quality["baseline"] == {"median": float(PRODUCTS), "ticks": 1, "change": -0.5}
    assert warned["stats"]["warnings"] == quality["violations"] == [
        "max_item_drop: 20 items, 50% fewer than the median of the last 1 ticks (40); at most 30% allowed",
        "coverage.description: 0% of the items have description, less than 95%",
    ]
    assert {c["monitor"]: c["ok"] for c in quality["monitors"]} == {
        "min_items": True, "max_item_drop": False, "coverage.description": False, "coverage.title": True}
    crawl_run = [r for r in records(luigid, "quality-warn") if r["family"] == "RunCrawl"][-1]
    assert crawl_run["status"] == "done" and crawl_run["stats"]["warnings"] == quality["violations"]

    # Both ticks' items are stored: the vanished half keeps its tick-1 last_seen.
    (counts,) = rows(luigid.items_url, "SELECT COUNT(*) AS n, SUM(CASE WHEN last_seen = first_seen THEN 1 ELSE 0 END)"
                                       " AS stale FROM crawl_items WHERE crawl = 'quality-warn'")
    assert counts == {"n": PRODUCTS, "stale": PRODUCTS // 2}
    markers = rows(luigid.items_url, "SELECT items FROM crawl_markers WHERE crawl = 'quality-warn' ORDER BY at")
    assert [m["items"] for m in markers] == [PRODUCTS, PRODUCTS // 2]


def test_a_redesign_fails_the_tick_after_storing_and_reruns_fail_until_the_monitor_is_loosened(
        luigid: Luigid, layout_site: DemoSite, layout_file: Path) -> None:
    _, second = two_ticks(luigid, layout_site, layout_file, "quality-fail", "fail")
    assert second.returncode == 30, second.stderr[-3000:]  # luigi's "a task failed"

    (failed,) = stores(luigid, "quality-fail", TICK2)
    assert failed["status"] == "failed" and failed["error_type"] == "pipelines.quality.DataQualityError"
    assert failed["error_message"] == (
        "data quality of crawl 'quality-fail': 2 monitors broken (on_violation = \"fail\"; the items are stored): "
        "max_item_drop: 20 items, 50% fewer than the median of the last 1 ticks (40); at most 30% allowed; "
        "coverage.description: 0% of the items have description, less than 95%")
    assert failed["stats"]["quality"]["verdict"] == "fail" and "warnings" not in failed["stats"]
    markers = rows(luigid.items_url, "SELECT items FROM crawl_markers WHERE crawl = 'quality-fail' ORDER BY at")
    assert [m["items"] for m in markers] == [PRODUCTS, PRODUCTS // 2]  # stored all the same

    # A rerun (the daemon's retry) does not turn the tick green: StoreItems is complete, RunCrawl fails again.
    again = luigid.run("RunCrawl", "--crawl", "quality-fail", "--at", TICK2)
    assert again.returncode == 30, again.stderr[-3000:]
    runs = [r for r in records(luigid, "quality-fail") if r["params"]["at"] == TICK2]
    assert [(r["family"], r["status"]) for r in runs][-1] == ("RunCrawl", "failed")
    assert runs[-1]["error_message"] == failed["error_message"]
    assert len([r for r in runs if r["family"] == "StoreItems"]) == 1  # the items were not stored twice

    # The operator accepts the new site: with warn instead of fail the stored report no longer fails the
    # tick, so luigi finds it complete (nothing runs again, the failed records stay as they were).
    spec = luigid.spec_dir / "quality-fail.toml"
    spec.write_text(spec.read_text().replace('on_violation = "fail"', 'on_violation = "warn"'))
    accepted = luigid.run("RunCrawl", "--crawl", "quality-fail", "--at", TICK2)
    assert accepted.returncode == 0, accepted.stderr[-3000:]
    assert "1 complete ones were encountered" in accepted.stderr
    assert len(records(luigid, "quality-fail")) == len(runs) + len(stores(luigid, "quality-fail", TICK1)) + 3
