"""RunCrawl's summary line explains every failed and skipped URL.

A tick over the fault-injection server (timeouts, resets, truncations, too
large, 404, error redirects, loops, bad gzip: more reasons than the line has
room for) through the luigi CLI and luigid; the summary the run record keeps
must account for each failed and skipped URL, by name or as "N other".
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from pipelines.tasks import _counted
from tests.conftest import Luigid
from tests.servers import FaultServer


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer(hang_seconds=10, drip_seconds=5) as server:
        yield server


def explained(summary: str, what: str) -> tuple[int, int, list[str]]:
    """(the total, the sum of the counts in its parentheses, the parts) for '9 failed (a 3, 6 other)'."""
    match = re.search(rf"([\d,]+) {what}(?: \(([^)]*)\))?", summary)
    assert match, summary
    total = int(match[1].replace(",", ""))
    parts = match[2].split(", ") if match[2] else []
    counts = [int(re.search(r"[\d,]+", part)[0].replace(",", "")) for part in parts]
    return total, sum(counts), parts


def test_every_failed_and_skipped_url_is_explained(luigid: Luigid, faults: FaultServer) -> None:
    (luigid.spec_dir / "hostile.toml").write_text(f"""
name = "hostile"
start_urls = ["{faults.url}/"]
allowed_domains = ["127.0.0.1"]
[fetch]
concurrency = 8
timeout = 1.5
retries = 1
retry_backoff = 0.1
max_bytes = 1048576
[fields.h1]
css = "h1::text"
""")
    result = luigid.run("RunCrawl", "--crawl", "hostile", "--at", "2026-11-21T0730")
    assert result.returncode == 0, result.stderr[-4000:]
    stats = json.loads((luigid.data_dir / "hostile" / "20261121T0730Z" / "fetch" / "stats.json").read_text())
    assert len(stats["failed_by_reason"]) > 4  # more reasons than the line lists by name

    engine = sa.create_engine(luigid.history_url)
    with engine.connect() as conn:
        run_stats = conn.execute(sa.text(
            "SELECT stats FROM crawl_runs WHERE family = 'RunCrawl' AND crawl = 'hostile' AND status = 'done'"
        )).scalar_one()
    engine.dispose()
    summary = json.loads(run_stats)["summary"]

    failed, failed_explained, parts = explained(summary, "failed")
    assert failed == stats["failed"] > 0
    assert failed_explained == failed, summary
    assert parts[-1].endswith(" other"), summary
    skipped, skipped_explained, _ = explained(summary, "skipped")
    assert skipped == stats["skipped"] > 0
    assert skipped_explained == skipped, summary


def test_few_reasons_are_all_named() -> None:
    assert _counted(9, "failed", {"timeout": 4, "http_404": 3, "truncated": 2}) == \
        "9 failed (timeout 4, http_404 3, truncated 2)"
    assert _counted(0, "skipped", {}) == "0 skipped"


def test_many_reasons_end_in_the_count_of_the_others() -> None:
    reasons = {"timeout": 5, "http_404": 4, "truncated": 3, "too_large": 2, "reset": 1}
    assert _counted(15, "failed", reasons) == "15 failed (timeout 5, http_404 4, truncated 3, 3 other)"


def test_urls_with_no_reason_are_counted_too() -> None:
    assert _counted(5, "failed", {"timeout": 3}) == "5 failed (timeout 3, 2 without a reason)"
