"""A crawl that stops at a limit says so: done with warnings, or failed with on_limit = "fail".

The demo site has more pages than max_pages; ticks run through the luigi CLI and a real luigid.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.exceptions import SpecError
from pipelines.limits import hits, judge, summary
from pipelines.spec import parse_spec
from tests.conftest import DemoSite, Luigid

MAX_PAGES = 30


def records(luigid: Luigid, crawl: str) -> list[dict]:
    engine = sa.create_engine(luigid.history_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT family, status, stats, error_type, error_message FROM crawl_runs "
                                        "WHERE crawl = :c ORDER BY id"), {"c": crawl}).mappings()
            found = [dict(r) for r in rows]
    finally:
        engine.dispose()
    return [{**r, "stats": json.loads(r["stats"] or "null")} for r in found]


def items(luigid: Luigid, crawl: str) -> int:
    engine = sa.create_engine(luigid.items_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT COUNT(*) FROM crawl_items WHERE crawl = :c"), {"c": crawl}).scalar()
    finally:
        engine.dispose()


def sentence(skipped: int) -> str:
    return (f"max_pages: the crawl reached its limit of {MAX_PAGES} pages; {skipped:,} more URLs found were not "
            "fetched, so the data may be incomplete")


def test_a_crawl_stopped_by_max_pages_is_done_with_warnings(luigid: Luigid, demo_site: DemoSite) -> None:
    luigid.write_spec("limit-warn", demo_site.url, max_pages=MAX_PAGES)
    result = luigid.run("RunCrawl", "--crawl", "limit-warn", "--at", "2026-11-21T0700")
    assert result.returncode == 0, result.stderr[-3000:]

    fetch, parse, store, crawl = records(luigid, "limit-warn")
    skipped = fetch["stats"]["skipped_by_reason"]["max_pages"]
    assert fetch["stats"]["fetched"] + fetch["stats"]["failed"] == MAX_PAGES and skipped > 0
    assert fetch["status"] == "done" and fetch["stats"]["warnings"] == [sentence(skipped)]
    assert fetch["stats"]["limits"] == [{"limit": "max_pages", "urls": skipped, "sentence": sentence(skipped)}]
    assert crawl["status"] == "done" and crawl["stats"]["warnings"] == [sentence(skipped)]
    assert crawl["stats"]["limits"]["verdict"] == "warn"
    assert crawl["stats"]["summary"].endswith(f"; limits: max_pages {skipped:,} URLs (warn)")
    assert "WARNING pipelines.tasks: limit reached (warn): max_pages: the crawl reached" in result.stderr


def test_with_on_limit_fail_the_tick_fails_after_storing_and_stays_failed_until_the_spec_changes(
        luigid: Luigid, demo_site: DemoSite) -> None:
    spec = luigid.write_spec("limit-fail", demo_site.url, max_pages=MAX_PAGES, on_limit="fail")
    first = luigid.run("RunCrawl", "--crawl", "limit-fail", "--at", "2026-11-21T0700")
    assert first.returncode == 30, first.stderr[-3000:]  # [retcode] task_failed
    runs = records(luigid, "limit-fail")
    assert [(r["family"], r["status"]) for r in runs] == [
        ("FetchPages", "done"), ("ParsePages", "done"), ("StoreItems", "done"), ("RunCrawl", "failed")]
    failed = runs[-1]
    skipped = runs[0]["stats"]["skipped_by_reason"]["max_pages"]
    assert failed["error_type"] == "pipelines.exceptions.CrawlLimitError"
    assert failed["error_message"] == (f"crawl 'limit-fail' reached 1 limit with on_limit = \"fail\" (the items are "
                                       f"stored): {sentence(skipped)}")
    assert "warnings" not in failed["stats"] and failed["stats"]["limits"]["verdict"] == "fail"
    stored = items(luigid, "limit-fail")
    assert stored > 0  # what was collected is kept

    again = luigid.run("RunCrawl", "--crawl", "limit-fail", "--at", "2026-11-21T0700")
    assert again.returncode == 30, again.stderr[-3000:]
    assert [r["family"] for r in records(luigid, "limit-fail")][4:] == ["RunCrawl"]  # nothing fetched again

    # Accepting the limit: the stored fetch then passes and luigi finds the tick complete (nothing runs).
    spec.write_text(spec.read_text().replace('on_limit = "fail"', 'on_limit = { max_pages = "warn" }'))
    accepted = luigid.run("RunCrawl", "--crawl", "limit-fail", "--at", "2026-11-21T0700")
    assert accepted.returncode == 0, accepted.stderr[-3000:]
    assert "1 complete ones were encountered" in accepted.stderr, accepted.stderr[-3000:]
    assert len(records(luigid, "limit-fail")) == 5 and items(luigid, "limit-fail") == stored


def test_an_ignored_limit_is_listed_without_a_warning(luigid: Luigid, demo_site: DemoSite) -> None:
    spec = luigid.write_spec("limit-ignore", demo_site.url, max_pages=MAX_PAGES)
    spec.write_text(spec.read_text().replace(f"max_pages = {MAX_PAGES}\n",
                                             f'max_pages = {MAX_PAGES}\non_limit = {{ max_pages = "ignore" }}\n'))
    result = luigid.run("RunCrawl", "--crawl", "limit-ignore", "--at", "2026-11-21T0700")
    assert result.returncode == 0, result.stderr[-3000:]
    fetch, *_, crawl = records(luigid, "limit-ignore")
    assert fetch["stats"]["limits"][0]["limit"] == "max_pages"
    assert "warnings" not in fetch["stats"] and "warnings" not in crawl["stats"]
    assert crawl["stats"]["summary"].endswith(" URLs (ignore)")


# -- which limits a fetch reached, and what on_limit makes of them (pure) ---------------------

STATS = {"skipped_by_reason": {"max_pages": 200, "max_depth": 1, "budget": 12, "offsite": 9},
         "failed_by_reason": {"too_large": 2, "timeout": 3},
         "skipped_by_budget": {"/a/": 5, "/b/": 4, "/c/": 2, "/d/": 1}}


def test_every_limit_reached_has_its_sentence() -> None:
    assert [(h["limit"], h["urls"], h["sentence"]) for h in hits(STATS, 10_000, 3, 1_048_576)] == [
        ("max_pages", 200, "max_pages: the crawl reached its limit of 10,000 pages; 200 more URLs found were not "
                           "fetched, so the data may be incomplete"),
        ("max_depth", 1, "max_depth: 1 URL more than 3 links from a start URL were not fetched"),
        ("budget", 12, "budgets: 12 URLs were not fetched, their budget spent ('/a/' 5, '/b/' 4, '/c/' 2, 1 other)"),
        ("max_bytes", 2, "max_bytes: 2 responses were larger than 1,048,576 bytes and failed as too_large"),
    ]
    assert hits({"skipped_by_reason": {"offsite": 3}, "failed_by_reason": {"timeout": 1}}, 10, None, 1) == []


def test_on_limit_decides_per_limit() -> None:
    found = hits(STATS, 10_000, 3, 1_048_576)
    mixed = judge(found, {"max_pages": "fail", "max_depth": "ignore", "budget": "warn", "max_bytes": "warn"})
    assert mixed["verdict"] == "fail" and len(mixed["failures"]) == 1 and len(mixed["warnings"]) == 2
    assert summary(mixed) == ("limits: max_pages 200 URLs (fail), max_depth 1 URL (ignore), budget 12 URLs (warn), "
                              "max_bytes 2 URLs (warn)")
    assert judge(found, dict.fromkeys(("max_pages", "max_depth", "budget", "max_bytes"), "ignore"))["verdict"] == "ok"
    assert judge(None, {})["verdict"] == "ok" and summary(judge([], {})) is None


SPEC = {"name": "s", "start_urls": ["http://shop.example/"], "allowed_domains": ["shop.example"],
        "fields": {"t": {"css": "h1"}}}


@pytest.mark.parametrize(("value", "problem"), [
    ("stop", "on_limit: expected one of warn, fail, ignore (or a table of limit = action), got the string 'stop'"),
    (3, "on_limit: expected warn, fail, ignore or a table, got int 3"),
    ({"max_page": "fail"}, "on_limit.max_page: is not a limit; the limits are max_pages, max_depth, budget, max_bytes"),
    ({"max_pages": "stop"}, "on_limit.max_pages: expected one of warn, fail, ignore, got the string 'stop'"),
])
def test_a_bad_on_limit_is_one_sentence(value: object, problem: str) -> None:
    with pytest.raises(SpecError) as error:
        parse_spec({**SPEC, "on_limit": value}, Path("s.toml"))
    assert str(error.value) == f"s.toml: {problem}"


def test_on_limit_defaults_to_warn_for_every_limit() -> None:
    assert parse_spec(dict(SPEC), Path("s.toml")).on_limit == {
        "max_pages": "warn", "max_depth": "warn", "budget": "warn", "max_bytes": "warn"}
    assert parse_spec({**SPEC, "on_limit": {"max_depth": "ignore"}}, Path("s.toml")).on_limit["max_depth"] == "ignore"
