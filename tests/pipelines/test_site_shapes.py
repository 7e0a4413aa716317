"""Sites that <a href> alone cannot crawl, as a user runs them: the luigi CLI against a real luigid.

tests/servers/shapes.py serves a shop paginated with <link rel="next"> only,
a docs site reachable only through robots.txt's Sitemap: line (a sitemap
index, a gzip sitemap), and a "load more" feed behind a JSON API that a link
hook follows (GET and POST). Each crawl must reach every page, keep its
accounting (fetched + failed + skipped = discovered, one urls.jsonl line per
URL), store the right items and write a WARC that `warcio check` accepts.
"""

from __future__ import annotations

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import PYTHON, Luigid
from tests.pipelines.test_crawl_chain import stored_items
from tests.servers.shapes import DOCS_PAGES, FEED_PAGES, ITEMS, SHOP_PAGES, ShapesServer

TICK = "2026-11-21T0730"
TICK_DIR = "20261121T0730Z"

FIELDS = """
[fields.title]
css = "h1::text"
required = true

[fields.price]
css = "span.price::text"
type = "float"
required = true
"""

FEED_HOOK = '''
from pipelines.fetch.http import Request


def more(page):
    """The feed's "Load more" button, then each JSON page: its items and the next page."""
    button = page.selector.css("button#more")
    if "/api/items" not in page.url:
        if button:
            api, method = button.attrib["data-api"], button.attrib["data-method"]
            yield Request(api, method="POST", body={"page": 1}) if method == "POST" else api
        return
    data = page.json()
    for item in data["items"]:
        yield item["url"]
    if data["next"]:
        n = data["next"]["page"]
        if "?" in page.url:
            yield f"/api/items?page={n}"
        else:
            yield Request("/api/items", method="POST", body=f"page={n}",
                          headers={"Content-Type": "application/x-www-form-urlencoded"})
'''


@pytest.fixture(scope="module")
def shapes() -> Iterator[ShapesServer]:
    with ShapesServer() as server:
        yield server


def write_spec(luigid: Luigid, name: str, text: str) -> None:
    (luigid.spec_dir / f"{name}.toml").write_text(f'name = "{name}"\nallowed_domains = ["127.0.0.1"]\n'
                                                  f'key = "url"\n{text}\n{FIELDS}')


def crawl(luigid: Luigid, name: str) -> tuple[dict, list[dict], Path]:
    """Run the tick; (fetch stats, urls.jsonl lines, the fetch folder), accounting checked."""
    result = luigid.run("RunCrawl", "--crawl", name, "--at", TICK)
    assert result.returncode == 0, result.stderr[-4000:]
    fetch = luigid.data_dir / name / TICK_DIR / "fetch"
    stats = json.loads((fetch / "stats.json").read_text())
    lines = [json.loads(line) for line in (fetch / "urls.jsonl").read_text().splitlines()]
    assert stats["fetched"] + stats["failed"] + stats["skipped"] == stats["discovered"] == len(lines)
    assert stats["link_errors"] == 0
    check = subprocess.run([str(Path(PYTHON).parent / "warcio"), "check", str(fetch / "pages.warc.gz")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    return stats, lines, fetch


def paths(lines: list[dict], outcome: str) -> set[str]:
    return {"/" + line["url"].split("/", 3)[3] for line in lines if line["outcome"] == outcome}


def assert_items(luigid: Luigid, name: str, base: str, prefix: str) -> None:
    items = stored_items(luigid.items_url, name)
    expected = {base + p: fields for p, fields in ITEMS.items() if p.startswith(prefix)}
    assert items == expected


def test_a_shop_paginated_with_link_rel_next_and_data_href_cards_is_crawled_whole(
        luigid: Luigid, shapes: ShapesServer) -> None:
    write_spec(luigid, "shape-shop", f"""
start_urls = ["{shapes.url}/shop/page-1"]
item_pages = '/shop/item-\\d+$'

[links]
rel = ["next"]
selectors = ["div.card::attr(data-href)"]
""")
    stats, lines, _ = crawl(luigid, "shape-shop")
    pages = {f"/shop/page-{n}" for n in range(1, SHOP_PAGES + 1)}
    assert paths(lines, "fetched") == pages | {p for p in ITEMS if p.startswith("/shop/")}
    assert stats["failed"] == stats["skipped"] == 0
    assert shapes.targets("/shop.css") == Counter()  # rel=stylesheet is not a followed relation
    assert_items(luigid, "shape-shop", shapes.url, "/shop/")


def test_a_docs_site_known_only_by_its_sitemaps_is_crawled_from_robots_txt(
        luigid: Luigid, shapes: ShapesServer) -> None:
    write_spec(luigid, "shape-docs", f"""
start_urls = ["{shapes.url}/"]
item_pages = '/docs/page-\\d+$'

[links]
robots_sitemaps = true
""")
    stats, lines, fetch = crawl(luigid, "shape-docs")
    sitemaps = {"/robots.txt", "/sitemaps/index.xml", "/sitemaps/docs-1.xml.gz", "/sitemaps/docs-2.xml"}
    docs = {f"/docs/page-{k}" for k in range(1, DOCS_PAGES + 1)}
    assert paths(lines, "fetched") == {"/"} | sitemaps | docs
    skipped = {line["url"]: line["reason"] for line in lines if line["outcome"] == "skipped"}
    assert skipped == {f"{shapes.url}/docs/private": "robots", "http://elsewhere.example/page": "offsite"}
    assert shapes.targets("/docs/private") == Counter()
    assert_items(luigid, "shape-docs", shapes.url, "/docs/")
    # The sitemaps are in the WARC, marked as what they were fetched for.
    with open(fetch / "pages.warc.gz", "rb") as stream:
        sources = {r.rec_headers.get_header("WARC-Target-URI").split("/", 3)[3]:
                   r.rec_headers.get_header("X-Crawlops-Source") for r in ArchiveIterator(stream)
                   if r.rec_type == "response"}
    assert sources["robots.txt"] == "robots"
    assert sources["sitemaps/docs-1.xml.gz"] == "sitemap"
    assert sources["docs/page-1"] is None


@pytest.mark.parametrize(("feed", "parse_workers"), [("/feed/", 1), ("/feed-post/", 0)])
def test_a_load_more_feed_behind_a_json_api_is_crawled_by_a_link_hook(
        luigid: Luigid, shapes: ShapesServer, feed: str, parse_workers: int) -> None:
    name = "shape-feed-" + ("post" if "post" in feed else "get")
    (luigid.spec_dir / "feed_hooks.py").write_text(FEED_HOOK)
    write_spec(luigid, name, f"""
start_urls = ["{shapes.url}{feed}"]
item_pages = '/feed/item-\\d+$'

[links]
hook = "feed_hooks:more"

[fetch]
parse_workers = {parse_workers}
""")
    stats, lines, fetch = crawl(luigid, name)
    api = [line for line in lines if "/api/items" in line["url"]]
    assert len(api) == FEED_PAGES and all(line["outcome"] == "fetched" for line in api)
    assert stats["failed"] == stats["skipped"] == 0
    assert paths(lines, "fetched") >= {p for p in ITEMS if p.startswith("/feed/")}
    assert_items(luigid, name, shapes.url, "/feed/")
    method = "POST" if "post" in feed else "GET"
    hits = Counter({k: n for k, n in shapes.targets("/api/items").items() if k.startswith(method)})
    if method == "GET":
        assert hits == Counter({f"GET /api/items?page={n}": 1 for n in range(1, FEED_PAGES + 1)})
        return
    # Four POSTs to one URL: four requests (the body is in the key), each sent once.
    assert hits == Counter({f"POST /api/items page={n}": 1 for n in range(1, FEED_PAGES + 1)})
    assert {line["method"] for line in api} == {"POST"} and len({line["body_sha1"] for line in api}) == FEED_PAGES
    with open(fetch / "pages.warc.gz", "rb") as stream:
        requests = [(r.http_headers.protocol, r.content_stream().read()) for r in ArchiveIterator(stream)
                    if r.rec_type == "request"]
    assert sorted(requests) == [("POST", f"page={n}".encode()) for n in range(1, FEED_PAGES + 1)]
