"""A stage that fails keeps its counters in its run record: the luigi CLI against a real luigid.

A ParsePages whose item pages all fail to parse (above max_error_ratio) and a FetchPages that
could fetch nothing are failed runs whose stats say how far they got, so the run page shows
them instead of "No stats".
"""

from __future__ import annotations

import json
import socket

import sqlalchemy as sa

from tests.conftest import Luigid, start_demo_site, stop


def last_run(luigid: Luigid, family: str, crawl: str) -> dict:
    engine = sa.create_engine(luigid.history_url)
    with engine.connect() as conn:
        row = conn.execute(sa.text(
            "SELECT status, error_type, stats FROM crawl_runs WHERE family = :f AND crawl = :c ORDER BY id DESC"),
            {"f": family, "c": crawl}).mappings().first()
    engine.dispose()
    assert row is not None, f"no {family} run of {crawl}"
    return dict(row)


def test_a_parse_failed_for_its_error_ratio_keeps_its_counters(luigid: Luigid) -> None:
    site = start_demo_site(30)
    try:
        spec = luigid.write_spec("unparsable", site.url)
        spec.write_text(spec.read_text().replace('css = "h1::text"', 'css = "h1.renamed::text"', 1))
        result = luigid.run("RunCrawl", "--crawl", "unparsable", "--at", "2026-11-21T0730")
    finally:
        stop(site.proc)
    assert result.returncode == 30, result.stderr[-3000:]  # [retcode] task_failed
    run = last_run(luigid, "ParsePages", "unparsable")
    assert (run["status"], run["error_type"]) == ("failed", "pipelines.exceptions.ParseRatioExceeded")
    stats = json.loads(run["stats"])
    assert stats["item_pages"] == site.products
    assert stats["errors"] == site.products
    assert stats["items"] == 0
    assert stats["error_ratio"] == 1.0


def test_a_fetch_that_fetched_nothing_keeps_its_counters(luigid: Luigid) -> None:
    with socket.socket() as sock:  # a port nobody listens on: every request is refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = luigid.write_spec("unreachable", f"http://127.0.0.1:{port}/", retries=0, obey_robots=False)
    assert spec.exists()
    result = luigid.run("FetchPages", "--crawl", "unreachable", "--at", "2026-11-21T0730")
    assert result.returncode == 30, result.stderr[-3000:]
    run = last_run(luigid, "FetchPages", "unreachable")
    assert (run["status"], run["error_type"]) == ("failed", "pipelines.exceptions.FetchAborted")
    stats = json.loads(run["stats"])
    assert (stats["fetched"], stats["failed"]) == (0, 1)
    assert sum(stats["failed_by_reason"].values()) == 1
