"""The whole chain, as a user runs it: the luigi CLI against a real luigid.

A generated 500-product site (526 pages) on 127.0.0.1; luigid with task
history on; `python -m luigi --module pipelines.tasks RunCrawl` in a
subprocess. The same scenario runs with the items DB and the history DB on
SQLite, PostgreSQL and MariaDB.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.demo import site
from tests.conftest import PYTHON, ROOT, DemoSite, Luigid, make_luigid, start_demo_site, stop

FAMILIES = {"FetchPages", "ParsePages", "StoreItems", "RunCrawl"}
TICK = "2026-11-21T0730"
TICK_DIR = "20261121T0730Z"


@pytest.fixture(scope="module")
def slow_site() -> DemoSite:
    # 10 ms per response and 2 connections: a fetch long enough to kill mid-way.
    s = start_demo_site(500, latency_ms=10)
    yield s
    stop(s.proc)


def stored_items(items_url: str, crawl: str) -> dict[str, dict]:
    engine = sa.create_engine(items_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT item_key, data FROM crawl_items WHERE crawl = :c"), {"c": crawl})
        result = {key: json.loads(data) for key, data in rows}
    engine.dispose()
    return result


def marker_count(items_url: str, crawl: str) -> int:
    engine = sa.create_engine(items_url)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        if not inspector.has_table("crawl_markers"):
            return 0
        count = conn.execute(sa.text("SELECT COUNT(*) FROM crawl_markers WHERE crawl = :c"), {"c": crawl}).scalar()
    engine.dispose()
    return count


def history_events(history_url: str, crawl: str) -> dict[str, list[str]]:
    """{task family: [event names in order]} for the tasks of one crawl."""
    engine = sa.create_engine(history_url)
    events: dict[str, list[str]] = defaultdict(list)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT t.name, e.event_name FROM tasks t JOIN task_events e ON e.task_id = t.id "
            "JOIN task_parameters p ON p.task_id = t.id AND p.name = 'crawl' AND p.value = :c "
            "ORDER BY e.id"), {"c": crawl})
        for name, event in rows:
            events[name].append(event)
    engine.dispose()
    return dict(events)


def assert_every_product_stored(items_url: str, crawl: str, products: int) -> None:
    items = stored_items(items_url, crawl)
    assert len(items) == products
    for pid in range(1, products + 1):
        expected = site.product(pid)
        got = items[expected["upc"]]
        for field in ("title", "price", "availability", "stock", "tags", "upc", "description"):
            assert got[field] == expected[field], (pid, field)


def crawl_and_check(luigid: Luigid, demo: DemoSite, slow: DemoSite, crawl: str) -> None:
    luigid.write_spec(crawl, demo.url)
    result = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
    assert result.returncode == 0, result.stderr[-4000:]

    assert_every_product_stored(luigid.items_url, crawl, demo.products)
    stats = json.loads((luigid.data_dir / crawl / TICK_DIR / "fetch" / "stats.json").read_text())
    assert stats["fetched"] == site.site_pages(demo.products) - 1  # the JS page is not followed
    assert stats["fetched"] + stats["failed"] + stats["skipped"] == stats["discovered"]
    outcomes = (luigid.data_dir / crawl / TICK_DIR / "fetch" / "urls.jsonl").read_text().splitlines()
    assert len(outcomes) == stats["discovered"]

    events = history_events(luigid.history_url, crawl)
    assert set(events) == FAMILIES
    for family in FAMILIES:
        assert events[family][-1] == "DONE", (family, events[family])
        assert "RUNNING" in events[family], (family, events[family])

    # The same tick again: nothing runs, nothing is written.
    warc = luigid.data_dir / crawl / TICK_DIR / "fetch" / "pages.warc.gz"
    mtime = warc.stat().st_mtime_ns
    again = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
    assert again.returncode == 0, again.stderr[-4000:]
    assert warc.stat().st_mtime_ns == mtime
    assert marker_count(luigid.items_url, crawl) == 1
    after = history_events(luigid.history_url, crawl)
    assert sum(e.count("RUNNING") for e in after.values()) == sum(e.count("RUNNING") for e in events.values())

    kill_during_fetch_then_resume(luigid, slow, crawl + "-killed")


def kill_during_fetch_then_resume(luigid: Luigid, slow: DemoSite, crawl: str) -> None:
    luigid.write_spec(crawl, slow.url, concurrency=2)
    tick = luigid.data_dir / crawl / TICK_DIR
    worker = subprocess.Popen(
        [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", crawl, "--at", TICK],
        cwd=ROOT, env=luigid.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    warc_tmp: list[Path] = []
    while time.monotonic() < deadline and worker.poll() is None:
        warc_tmp = [p for p in tick.glob("fetch.tmp-*/pages.warc.gz") if p.stat().st_size > 20_000]
        if warc_tmp:
            break
        time.sleep(0.02)
    assert warc_tmp, "the fetch never got going"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()

    # Nothing at any target path: no fetch or parse folder, no marker.
    assert not (tick / "fetch").exists()
    assert not (tick / "parse").exists()
    assert marker_count(luigid.items_url, crawl) == 0

    # luigid notices the dead worker after worker_disconnect_delay (2 s in the test config).
    deadline = time.monotonic() + 60
    while True:
        result = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
        if result.returncode == 0 or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert result.returncode == 0, result.stderr[-4000:]
    assert (tick / "fetch").is_dir()
    assert not list(tick.glob("*.tmp-*")), "the dead attempt's temporary folder was not cleaned up"
    assert_every_product_stored(luigid.items_url, crawl, slow.products)


def test_the_chain_crawls_stores_and_resumes_on_sqlite(tmp_path: Path, demo_site: DemoSite,
                                                       slow_site: DemoSite) -> None:
    server = make_luigid(tmp_path)
    server.start()
    try:
        crawl_and_check(server, demo_site, slow_site, "shop")
    finally:
        server.stop()


@pytest.mark.postgres
def test_the_chain_works_with_postgresql_for_items_and_history(tmp_path: Path, demo_site: DemoSite,
                                                              slow_site: DemoSite, postgres_url: str) -> None:
    server = make_luigid(tmp_path, history_url=postgres_url, items_url=postgres_url)
    server.start()
    try:
        crawl_and_check(server, demo_site, slow_site, "shop-pg")
    finally:
        server.stop()


@pytest.mark.mariadb
@pytest.mark.postgres
def test_the_chain_works_with_mariadb_for_items(tmp_path: Path, demo_site: DemoSite, slow_site: DemoSite,
                                                mariadb_url: str, postgres_url: str) -> None:
    server = make_luigid(tmp_path, history_url=postgres_url, items_url=mariadb_url)
    server.start()
    try:
        crawl_and_check(server, demo_site, slow_site, "shop-maria")
    finally:
        server.stop()


def test_a_failed_stage_is_resumed_without_refetching(luigid: Luigid, demo_site: DemoSite) -> None:
    crawl = "resume"
    spec = luigid.write_spec(crawl, demo_site.url)
    # Break the parse: a required field that no page has, and no tolerance.
    spec.write_text(spec.read_text() + '\n[fields.isbn]\ncss = "td.isbn::text"\nrequired = true\n')
    failed = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
    assert failed.returncode == 30, failed.stderr[-3000:]  # [retcode] task_failed
    assert "required field 'isbn' not found" in failed.stderr
    warc = luigid.data_dir / crawl / TICK_DIR / "fetch" / "pages.warc.gz"
    fetched_at = warc.stat().st_mtime_ns
    assert not (luigid.data_dir / crawl / TICK_DIR / "parse").exists()

    luigid.write_spec(crawl, demo_site.url)  # the spec is fixed
    fixed = luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)
    assert fixed.returncode == 0, fixed.stderr[-3000:]
    assert warc.stat().st_mtime_ns == fetched_at  # FetchPages did not run again
    assert_every_product_stored(luigid.items_url, crawl, demo_site.products)
    fetch_runs = history_events(luigid.history_url, crawl)["FetchPages"].count("RUNNING")
    assert fetch_runs == 1
