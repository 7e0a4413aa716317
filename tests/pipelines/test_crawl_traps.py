"""Discovery against duplicate spellings and crawler traps, on a real local site (tests/servers/traps.py).

A URL is fetched once however its query is ordered or tagged; an endless
calendar stops at max_depth and a budget caps a pattern, and whatever is cut
off is recorded as skipped with its reason, so the outcomes still add up.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.spec import CrawlSpec, parse_spec
from tests.pipelines.test_fetch import crawl
from tests.servers.traps import TrapServer


@pytest.fixture
def site() -> Iterator[TrapServer]:
    with TrapServer() as server:
        yield server


def make_spec(site: TrapServer, *paths: str, extra: str = "", fetch: str = "concurrency = 2",
              tables: str = "") -> CrawlSpec:
    starts = ", ".join(f'"{site.url}{p}"' for p in paths)
    text = f"""
start_urls = [{starts}]
allowed_domains = ["127.0.0.1"]
{extra}
[fetch]
timeout = 5
obey_robots = false
{fetch}
[fields.title]
css = "title::text"
{tables}
"""
    return parse_spec(tomllib.loads(text), Path("traps.toml"))


def outcomes(spec: CrawlSpec, tmp_path: Path) -> tuple[dict, dict[str, dict]]:
    """Crawl; check that every discovered URL has exactly one outcome line; lines by URL path."""
    stats, lines = crawl(spec, tmp_path)
    by_url = {line["url"].split("/", 3)[3]: line for line in lines}
    assert len(by_url) == len(lines) == stats["discovered"]
    assert stats["fetched"] + stats["failed"] + stats["skipped"] == stats["discovered"]
    assert sum(stats["skipped_by_reason"].values()) == stats["skipped"]
    return stats, by_url


def test_reordered_and_tracking_tagged_links_are_fetched_once(site: TrapServer, tmp_path: Path) -> None:
    stats, by_url = outcomes(make_spec(site, "/dupes/"), tmp_path)
    # Fetched as first found, less its tracking parameters; the other spellings are the same URL.
    assert site.hits_under("/dupes/p") == {"/dupes/p?b=2&a=1": 1}
    assert site.hits_under("/dupes/q") == {"/dupes/q": 1}
    assert sum(site.hits_under("/dupes/r").values()) == 1  # ?x=%7e (urllib3 sends %7E) and ?x=~
    # The server redirects to its own spelling of the same URL: one URL, fetched.
    assert site.hits_under("/moved") == {"/moved?b=2&a=1": 1, "/moved?a=1&b=2": 1}
    assert by_url["moved?a=1&b=2"]["outcome"] == "fetched"
    assert sorted(by_url) == ["dupes/", "dupes/p?b=2&a=1", "dupes/q", "dupes/r?x=%7e", "moved?a=1&b=2"]
    assert stats["fetched"] == stats["discovered"] == 5


def test_with_canonical_dedupe_off_reordered_links_are_fetched_twice(site: TrapServer, tmp_path: Path) -> None:
    stats, by_url = outcomes(make_spec(site, "/dupes/", extra="canonical_dedupe = false"), tmp_path)
    # utm parameters are still stripped, so the tagged link is the same as ?a=1&b=2
    assert site.hits_under("/dupes/p") == {"/dupes/p?b=2&a=1": 1, "/dupes/p?a=1&b=2": 1}
    assert sum(site.hits_under("/dupes/r").values()) == 2
    assert by_url["moved?b=2&a=1"]["reason"] == "redirect"
    assert by_url["moved?a=1&b=2"]["outcome"] == "fetched"


def test_with_no_parameters_to_strip_tagged_links_are_fetched_as_they_are(site: TrapServer, tmp_path: Path) -> None:
    outcomes(make_spec(site, "/dupes/", extra="strip_query_params = []"), tmp_path)
    assert site.hits_under("/dupes/q") == {"/dupes/q?utm_campaign=spring": 1, "/dupes/q": 1,
                                            "/dupes/q?gclid=abc": 1, "/dupes/q?fbclid=def": 1}
    assert site.hits_under("/dupes/p") == {"/dupes/p?b=2&a=1": 1,
                                            "/dupes/p?a=1&b=2&utm_source=news&utm_medium=email": 1}


def test_a_calendar_trap_stops_at_max_depth_and_records_the_months_beyond(
        site: TrapServer, tmp_path: Path) -> None:
    stats, by_url = outcomes(make_spec(site, "/calendar/2024-01", extra="max_depth = 2"), tmp_path)
    fetched = {u: line["depth"] for u, line in by_url.items() if line["outcome"] == "fetched"}
    assert fetched == {"calendar/2024-01": 0, "calendar/2023-12": 1, "calendar/2024-02": 1,
                       "calendar/2023-11": 2, "calendar/2024-03": 2}
    skipped = {u: (line["reason"], line["depth"]) for u, line in by_url.items() if line["outcome"] == "skipped"}
    assert skipped == {"calendar/2023-10": ("max_depth", 3), "calendar/2024-04": ("max_depth", 3)}
    assert stats["skipped_by_reason"] == {"max_depth": 2}
    assert sum(site.hits_under(f"/{u}").get(f"/{u}", 0) for u in skipped) == 0  # never requested


def test_a_page_first_found_too_deep_is_fetched_when_a_closer_link_turns_up(
        site: TrapServer, tmp_path: Path) -> None:
    # /hub -> /mid -> /target is one hop too deep; /slow-hub (a start URL, 503 once, retried
    # after about a second) links /target directly, after /mid has already been crawled.
    spec = make_spec(site, "/hub", "/slow-hub", extra="max_depth = 1",
                     fetch="concurrency = 1\nretries = 1\nretry_backoff = 1.0")
    stats, by_url = outcomes(spec, tmp_path)
    assert by_url["mid"]["depth"] == 1
    assert by_url["target"] == {**by_url["target"], "outcome": "fetched", "depth": 1,
                                "referer": f"{site.url}/slow-hub"}
    assert stats["skipped"] == 0


def test_a_budget_caps_the_urls_matching_its_pattern(site: TrapServer, tmp_path: Path) -> None:
    spec = make_spec(site, "/list?page=1", "/s/start/page-1", tables="""
[budgets]
'/list\\?page=' = 5
'/s/' = 3
""")
    stats, by_url = outcomes(spec, tmp_path)
    assert sorted(site.hits_under("/list")) == [f"/list?page={n}" for n in range(1, 6)]
    assert sum(site.hits.values()) == 5 + 3
    assert by_url["list?page=6"]["reason"] == "budget"
    assert [line["reason"] for u, line in by_url.items() if u.startswith("s/")] == [None, None, None, "budget"]
    assert stats["fetched"] == 8
    assert stats["skipped_by_reason"] == {"budget": 2}
    assert stats["skipped_by_budget"] == {"/list\\?page=": 1, "/s/": 1}
