"""Sites that <a href> alone cannot crawl, as a user runs them: the luigi CLI against a real luigid.

tests/servers/shapes.py serves a shop paginated with <link rel="next"> only,
a docs site reachable only through robots.txt's Sitemap: line (a sitemap
index, a gzip sitemap), a "load more" feed behind a JSON API that a link
hook follows (GET and POST), a single-page app whose list a script draws
(a hook asks for it rendered in Chromium on an HTTP crawl), and POST forms
whose actions redirect (307/308 keep the POST, 301-303 become a GET). Each
crawl must reach every page, keep its accounting (fetched + failed +
skipped = discovered, one urls.jsonl line per URL), store the right items
and write a WARC that `warcio check` accepts.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import PYTHON, Luigid
from tests.pipelines.test_browser_crawl import wait_until_gone
from tests.pipelines.test_crawl_chain import stored_items
from tests.servers.shapes import (
    DOCS_PAGES,
    FEED_PAGES,
    FORM_BODY,
    ITEMS,
    REDIRECT_CODES,
    SHOP_PAGES,
    SPA_ITEMS,
    SPA_PAGE,
    ShapesServer,
)

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


def crawl_with_hook(luigid: Luigid, name: str, start: str, item_pages: str, hook: str,
                    source: str) -> tuple[dict, list[dict], Path]:
    """`crawl` from `start` with the link hook `hook` ("module:function"), its module written from `source`."""
    (luigid.spec_dir / f"{hook.partition(':')[0]}.py").write_text(source)
    write_spec(luigid, name, f"start_urls = [\"{start}\"]\nitem_pages = '{item_pages}'\n\n[links]\nhook = \"{hook}\"\n")
    return crawl(luigid, name)


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


SPA_HOOK = '''
from pipelines.fetch.http import Request


def app(page):
    """The app's page rendered in Chromium; its search, a POST, asked for in Chromium too (which cannot)."""
    div = page.selector.css("div#app")
    if div:
        yield Request(div.attrib["data-render"], render="browser")
        yield Request(div.attrib["data-search"], method="POST", body={"q": "tea"}, render="browser")
'''


@pytest.mark.browser
def test_a_hook_asks_for_a_script_drawn_page_in_chromium_on_an_http_crawl(
        luigid: Luigid, shapes: ShapesServer) -> None:
    if not Path("/usr/bin/chromium").exists() or not Path("/usr/bin/chromedriver").exists():
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")
    stats, lines, fetch = crawl_with_hook(luigid, "shape-spa", f"{shapes.url}/spa/", '/spa/(app|item-\\d+)$',
                                          "spa_hooks:app", SPA_HOOK)
    by_path = {"/" + line["url"].split("/", 3)[3]: line for line in lines}
    # The list exists only in the rendered DOM: its links were found there and fetched (over HTTP).
    items = {f"/spa/item-{k}" for k in range(1, SPA_ITEMS + 1)}
    assert paths(lines, "fetched") == {"/spa/", "/spa/app"} | items
    assert shapes.targets("/spa/app") == Counter({"GET /spa/app": 1, "GET /spa/app.js": 1})
    # The POST asked for in the browser never left: failed with its reason, accounted for.
    search = by_path["/spa/search"]
    assert (search["outcome"], search["reason"], search["method"]) == ("failed", "unsupported_method", "POST")
    assert search["body_sha1"] == hashlib.sha1(b"q=tea").hexdigest()
    assert shapes.targets("/spa/search") == Counter()
    assert stats["failed_by_reason"] == {"unsupported_method": 1} and stats["skipped"] == 0
    # The rendered page's own item is what the script drew.
    assert stored_items(luigid.items_url, "shape-spa") == {
        shapes.url + "/spa/app": SPA_PAGE, **{shapes.url + p: ITEMS[p] for p in items}}
    # One browser, started for the hook's request and quit when the fetch ended (not at the worker's exit).
    logged = [json.loads(line) for line in (luigid.home / "tasks.jsonl").read_text().splitlines()]
    browser = [r["message"].split(" ", 2)[2] for r in logged
               if r["logger"] == "pipelines.fetch.browser" and "shape_spa" in r["task_id"]]
    assert [m.split(" in ")[0] for m in browser] == ["started", "stopped (closed) after 1 pages"]
    assert wait_until_gone(luigid.home / "browsers") == []


FORMS_HOOK = '''
from pipelines.fetch.http import Request


def forms(page):
    """Each POST form of the page, submitted with its inputs."""
    for form in page.selector.css("form[method=post]"):
        fields = {i.attrib["name"]: i.attrib["value"] for i in form.css("input")}
        yield Request(form.attrib["action"], method="POST", body=fields)
'''


def test_a_redirected_post_stays_a_post_on_307_and_308_and_becomes_a_get_on_301_to_303(
        luigid: Luigid, shapes: ShapesServer) -> None:
    stats, lines, fetch = crawl_with_hook(luigid, "shape-forms", f"{shapes.url}/forms/", "/nothing-here$",
                                          "form_hooks:forms", FORMS_HOOK)
    kept = {307, 308}
    # The server answers a target 400 unless it came as it should: every one was fetched.
    assert stats["failed"] == stats["skipped"] == 0
    assert shapes.targets("/redirect/") == Counter(
        {f"POST /redirect/{code} {FORM_BODY.decode()}": 1 for code in REDIRECT_CODES}
        | {f"POST /redirect/{code}/target {FORM_BODY.decode()}": 1 for code in kept}
        | {f"GET /redirect/{code}/target": 1 for code in set(REDIRECT_CODES) - kept})
    body_sha1 = hashlib.sha1(FORM_BODY).hexdigest()
    by_path = {"/" + line["url"].split("/", 3)[3]: line for line in lines}
    for code in REDIRECT_CODES:
        source, target = by_path[f"/redirect/{code}"], by_path[f"/redirect/{code}/target"]
        assert (source["outcome"], source["reason"], source["status"]) == ("fetched", "redirect", code)
        assert (source["method"], source["body_sha1"]) == ("POST", body_sha1)
        assert (target["outcome"], target["status"]) == ("fetched", 200)
        assert (target.get("method"), target.get("body_sha1")) == (
            ("POST", body_sha1) if code in kept else (None, None))
    # Each POST sent has its request record (as warcio reads it) before the response it was answered with.
    with open(fetch / "pages.warc.gz", "rb") as stream:
        records = [(r.rec_type, r.rec_headers, r.http_headers, r.content_stream().read())
                   for r in ArchiveIterator(stream)]
    requests = {}
    for i, (kind, warc, http, body) in enumerate(records):
        if kind != "request":
            continue
        answer = records[i + 1][1]
        assert records[i + 1][0] == "response"
        assert warc.get_header("WARC-Concurrent-To") == answer.get_header("WARC-Record-ID")
        assert warc.get_header("WARC-Target-URI") == answer.get_header("WARC-Target-URI")
        assert http.get_header("Content-Type") == "application/x-www-form-urlencoded"
        requests["/" + warc.get_header("WARC-Target-URI").split("/", 3)[3]] = (
            http.protocol, http.statusline, body, int(records[i + 1][2].get_statuscode()))
    assert requests == {
        **{f"/redirect/{code}": ("POST", f"/redirect/{code} HTTP/1.1", FORM_BODY, code) for code in REDIRECT_CODES},
        **{f"/redirect/{code}/target": ("POST", f"/redirect/{code}/target HTTP/1.1", FORM_BODY, 200)
           for code in kept},
    }
