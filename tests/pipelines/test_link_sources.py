"""[links]: the spec's sentences, the sitemap reader and the link finder (pure, no server)."""

from __future__ import annotations

import gzip
import tomllib
from pathlib import Path

import pytest

from pipelines.exceptions import SpecError
from pipelines.fetch.http import Request
from pipelines.fetch.sitemaps import SitemapTooLarge, parse_sitemap, robots_sitemaps
from pipelines.fetch.sources import LinkFinder, sitemap_links
from pipelines.spec import CrawlSpec, parse_spec

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def spec(links: str, tmp_path: Path) -> CrawlSpec:
    text = f"""
start_urls = ["http://s.example/"]
allowed_domains = ["s.example"]
[fields.title]
css = "title::text"
[links]
{links}
"""
    return parse_spec(tomllib.loads(text), tmp_path / "links.toml")


@pytest.mark.parametrize(("links", "sentence"), [
    ("sitemap = []", "links.sitemap: unknown key; did you mean 'sitemaps'?"),
    ('rel = ["next page"]', "links.rel: expected link relations such as 'next' or 'prev', got 'next page'"),
    ('selectors = ["div[["]', "links.selectors: expected a CSS selector or an XPath expression, 'div[[' does "
                              "not parse as CSS"),
    ('selectors = ["//a[@"]', "links.selectors: expected a CSS selector or an XPath expression, '//a[@' does "
                              "not compile as XPath"),
    ('sitemaps = ["/sitemap.xml"]', "links.sitemaps: expected absolute http(s) URLs of sitemaps, got '/sitemap.xml'"),
    ('hook = "nohooks"', "links.hook: expected 'module:function', got 'nohooks'"),
    ("anchors = 1", "links.anchors: expected true or false"),
])
def test_bad_links_keys_are_refused_with_a_sentence(links: str, sentence: str, tmp_path: Path) -> None:
    with pytest.raises(SpecError) as error:
        spec(links, tmp_path)
    assert sentence in str(error.value)


def test_sitemap_index_urlset_and_gzip_are_read_in_order() -> None:
    index = f"<sitemapindex {NS}><sitemap><loc> http://s.example/a.xml </loc></sitemap>" \
            f"<sitemap><loc>http://s.example/b.xml.gz</loc></sitemap></sitemapindex>".encode()
    assert parse_sitemap(index).sitemaps == ("http://s.example/a.xml", "http://s.example/b.xml.gz")
    urlset = f'<?xml version="1.0"?><urlset {NS}><url><loc>http://s.example/1</loc><priority>1</priority></url>' \
             f"<url><loc>http://s.example/2</loc></url></urlset>".encode()
    assert parse_sitemap(gzip.compress(urlset)).pages == ("http://s.example/1", "http://s.example/2")
    assert parse_sitemap(b"<html><a href='/x'>x</a></html>").pages == ()  # not a sitemap
    assert parse_sitemap(b"garbage <<<").pages == ()
    with pytest.raises(SitemapTooLarge):
        parse_sitemap(gzip.compress(urlset * 100), max_bytes=1000)


def test_a_sitemap_entity_is_not_expanded() -> None:
    body = (b'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
            b'<urlset><url><loc>http://s.example/&x;</loc></url></urlset>')
    assert all("root:" not in p for p in parse_sitemap(body).pages)


def test_robots_sitemap_lines_become_sitemap_requests() -> None:
    body = b"User-agent: *\nDisallow: /x\nSitemap: http://s.example/sitemap.xml\nSitemap: ftp://nope/\n"
    assert robots_sitemaps(body) == ["http://s.example/sitemap.xml", "ftp://nope/"]
    links, error = sitemap_links("robots", body, None, 10_000)
    assert error is None
    assert [(r.url, r.meta) for r in links] == [("http://s.example/sitemap.xml", {"source": "sitemap"})]  # type: ignore[union-attr]
    links, error = sitemap_links("sitemap", b"\x1f\x8b\x08\x00broken", None, 10_000)
    assert links == [] and error is not None and "gzip" in error


PAGE = b"""<html><head><base href="/dir/"><link rel="stylesheet" href="s.css"><link rel="Prev Next" href="p2">
</head><body><a href="a1">a</a><div class="more" data-href="d1">d</div><form method="get" action="f1"></form>
</body></html>"""


def test_the_finder_takes_each_source_in_order_resolved_against_the_base(tmp_path: Path) -> None:
    finder = LinkFinder(spec('rel = ["next"]\nselectors = ["div.more::attr(data-href)", '
                             '"//form[@method=\'get\']/@action"]', tmp_path))
    links, error = finder.find("http://s.example/x/page", 200, [], PAGE, "utf-8", True)
    assert error is None
    assert links == [f"http://s.example/dir/{p}" for p in ("a1", "p2", "d1", "f1")]
    off = LinkFinder(spec("anchors = false", tmp_path))
    assert off.find("http://s.example/x/page", 200, [], PAGE, "utf-8", True) == ([], None)


def test_a_hooks_requests_are_resolved_and_its_failures_are_a_sentence(tmp_path: Path) -> None:
    (tmp_path / "hooks_for_links.py").write_text('''
from pipelines.fetch.http import Request

def good(page):
    yield "next"
    yield Request("/api", method="post", body={"page": 2, "q": "a b"})

def bad(page):
    yield "first"
    raise KeyError("items")

def wrong(page):
    return [{"url": "/x"}]
''')
    found, error = LinkFinder(spec('hook = "hooks_for_links:good"', tmp_path)).find(
        "http://s.example/list/", 200, [("Content-Type", "application/json")], b"{}", "utf-8", False)
    assert error is None and found[0] == "http://s.example/list/next"
    post = found[1]
    assert isinstance(post, Request)
    assert (post.url, post.method, post.body) == ("http://s.example/api", "POST", b"page=2&q=a+b")
    assert post.headers == {"Content-Type": "application/x-www-form-urlencoded"}
    found, error = LinkFinder(spec('hook = "hooks_for_links:bad"', tmp_path)).find(
        "http://s.example/", 200, [], b"<p>", "utf-8", True)
    assert found == ["http://s.example/first"]  # what it yielded before it raised
    assert error == "http://s.example/: link hook hooks_for_links:bad raised KeyError: 'items'"
    _, error = LinkFinder(spec('hook = "hooks_for_links:wrong"', tmp_path)).find(
        "http://s.example/", 200, [], b"<p>", "utf-8", True)
    assert error is not None and "gave dict; expected URLs (strings) or pipelines.fetch.http.Request" in error


def test_a_hooks_get_request_takes_the_place_of_the_same_link_found_by_the_anchors(tmp_path: Path) -> None:
    (tmp_path / "render_links.py").write_text('''
from pipelines.fetch.http import Request

def render(page):
    yield Request("/app", render="browser")
    yield Request("/search", method="POST", body=b"q=tea")
''')
    page = b'<a href="/app">app</a><a href="/search">search</a><a href="/about">about</a>'
    found, error = LinkFinder(spec('hook = "render_links:render"', tmp_path)).find(
        "http://s.example/", 200, [], page, "utf-8", True)
    assert error is None
    # The anchor to /app would be discovered first and fetched over HTTP; a POST is another request than a GET.
    assert [(x.url, x.method, x.render) if isinstance(x, Request) else x for x in found] == [
        "http://s.example/search", "http://s.example/about",
        ("http://s.example/app", "GET", "browser"), ("http://s.example/search", "POST", None)]
