"""The crawl loop: every discovered URL ends fetched, failed or skipped, with a reason."""

from __future__ import annotations

import io
import json
import threading
import tomllib
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipelines.exceptions import FetchAborted
from pipelines.fetch.crawler import Crawler
from pipelines.fetch.links import extract_links, normalize
from pipelines.spec import parse_spec
from pipelines.warc import PageWriter, read_pages
from tests.conftest import free_port

HITS: Counter[str] = Counter()


def page(*links: str) -> bytes:
    return ("<html><body>" + "".join(f'<a href="{h}">x</a>' for h in links) + "</body></html>").encode()


ROUTES = {
    "/": page("/a.html", "b.html#frag", "/A.HTML?x=1", "/private/x.html", "/missing.html", "/flaky.html",
              "/moved.html", "http://elsewhere.example/", "mailto:x@y", "javascript:void(0)", "/deep/1.html"),
    "/a.html": page("/", "/a.html"),
    "/b.html": page(),
    "/A.HTML?x=1": page(),
    "/private/x.html": page(),
    "/new.html": page(),
    "/deep/1.html": page("http://[bad", "/deep/2.html"),  # an href urljoin cannot parse, beside a good one
    "/deep/2.html": page("/deep/3.html"),
    "/deep/3.html": page(),
}


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        HITS[self.path] += 1
        if self.path == "/robots.txt":
            return self._send(200, b"User-agent: *\nDisallow: /private/\n", "text/plain")
        if self.path == "/flaky.html" and HITS[self.path] <= 2:
            return self._send(500, b"busy")
        if self.path == "/flaky.html":
            return self._send(200, page())
        if self.path == "/moved.html":
            self.send_response(301)
            self.send_header("Location", "/new.html")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        body = ROUTES.get(self.path)
        return self._send(200, body) if body is not None else self._send(404, b"nope")

    def _send(self, status: int, body: bytes, ctype: str = "text/html; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def make_spec(base: str, extra: str = "", fetch: str = ""):
    text = f"""
start_urls = ["{base}/"]
allowed_domains = ["127.0.0.1"]
{extra}
[fetch]
concurrency = 4
timeout = 5
retry_backoff = 0.01
{fetch}
[fields.title]
css = "title::text"
"""
    return parse_spec(tomllib.loads(text), Path("t.toml"))


def crawl(spec, tmp_path: Path) -> tuple[dict, list[dict]]:
    warc = tmp_path / "pages.warc.gz"
    outcomes = io.StringIO()
    with open(warc, "wb") as fh:
        crawler = Crawler(spec, PageWriter(fh, {"crawl": "t"}), outcomes)
        stats = crawler.run()
    lines = [json.loads(line) for line in outcomes.getvalue().splitlines()]
    return stats, lines


def test_every_url_ends_with_one_outcome_and_a_reason(site: str, tmp_path: Path) -> None:
    HITS.clear()
    stats, lines = crawl(make_spec(site), tmp_path)
    by_url = {line["url"]: line for line in lines}
    assert len(by_url) == len(lines) == stats["discovered"]
    assert stats["fetched"] + stats["failed"] + stats["skipped"] == stats["discovered"]
    assert by_url[f"{site}/private/x.html"]["reason"] == "robots"
    assert HITS["/private/x.html"] == 0
    assert by_url[f"{site}/missing.html"] == {**by_url[f"{site}/missing.html"], "outcome": "failed",
                                               "reason": "http_404"}
    assert by_url["http://elsewhere.example/"]["reason"] == "offsite"
    assert by_url[f"{site}/flaky.html"]["outcome"] == "fetched"
    assert by_url[f"{site}/flaky.html"]["attempts"] == 3
    assert by_url[f"{site}/moved.html"]["reason"] == "redirect"
    assert by_url[f"{site}/new.html"]["outcome"] == "fetched"
    assert by_url[f"{site}/deep/3.html"]["depth"] == 3
    # the fragment is dropped, so b.html is fetched once; case in paths matters
    assert HITS["/b.html"] == 1 and HITS["/A.HTML?x=1"] == 1 and HITS["/a.html"] == 1
    assert stats["retries"] == 2
    assert stats["failed_by_reason"] == {"http_404": 1}


def test_a_frontier_spilled_to_disk_gives_the_same_outcomes(site: str, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """With one request in memory per host, the rest wait in the temp file: nothing lost, nothing twice."""
    from pipelines.fetch.frontier import HostQueue

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, in_memory = crawl(make_spec(site), tmp_path / "a")
    monkeypatch.setattr(HostQueue, "MEMORY", 1)
    spilled = []
    append = HostQueue.append
    monkeypatch.setattr(HostQueue, "append", lambda self, r: (append(self, r), spilled.append(self.spilled)))
    stats, on_disk = crawl(make_spec(site), tmp_path / "b")
    assert max(spilled) >= 3  # the home page's links did go to the file
    key = lambda line: (line["url"], line["outcome"], line["reason"], line["depth"])  # noqa: E731
    assert sorted(map(key, on_disk)) == sorted(map(key, in_memory))
    assert stats["fetched"] + stats["failed"] + stats["skipped"] == stats["discovered"] == len(on_disk)


def test_the_warc_holds_every_response(site: str, tmp_path: Path) -> None:
    stats, _ = crawl(make_spec(site), tmp_path)
    pages = list(read_pages(tmp_path / "pages.warc.gz"))
    assert len(pages) == sum(int(n) for n in stats["responses_by_status"].values())
    home = next(p for p in pages if p.url == f"{site}/")
    assert home.status == 200 and b"a.html" in home.body


def test_max_depth_and_max_pages_skip_with_their_reason(site: str, tmp_path: Path) -> None:
    stats, lines = crawl(make_spec(site, "max_depth = 1"), tmp_path)
    # depth-2 links are recorded, never requested; nothing beyond them is discovered
    assert stats["skipped_by_reason"]["max_depth"] == 1
    assert [line for line in lines if line["url"].endswith("/deep/2.html")] == [
        {"url": f"{site}/deep/2.html", "outcome": "skipped", "reason": "max_depth", "depth": 2,
         "referer": f"{site}/deep/1.html"}]
    assert not any(line["url"].endswith("/deep/3.html") for line in lines)
    stats, lines = crawl(make_spec(site, "max_pages = 3"), tmp_path)
    assert stats["fetched"] + stats["failed"] <= 3
    assert stats["skipped_by_reason"]["max_pages"] > 0
    assert stats["fetched"] + stats["failed"] + stats["skipped"] == stats["discovered"]


def test_follow_patterns_limit_the_crawl(site: str, tmp_path: Path) -> None:
    stats, lines = crawl(make_spec(site, "follow = ['/a\\.html$']"), tmp_path)
    fetched = {line["url"] for line in lines if line["outcome"] == "fetched"}
    assert fetched == {f"{site}/", f"{site}/a.html"}
    assert stats["skipped_by_reason"]["not_followed"] >= 5


def test_a_site_that_is_down_aborts_the_fetch(tmp_path: Path) -> None:
    with pytest.raises(FetchAborted, match="connection_error"):
        crawl(make_spec(f"http://127.0.0.1:{free_port()}", fetch="retries = 0"), tmp_path)


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTP://Example.COM:80/a#x", "http://example.com/a"),
    ("https://example.com:443", "https://example.com/"),
    ("http://example.com:8080/a?b=1", "http://example.com:8080/a?b=1"),
    ("http://example.com/caf\u00e9 x", "http://example.com/caf%C3%A9%20x"),
    ("ftp://example.com/", None),
    ("http://[::1]:99/", "http://[::1]:99/"),
    ("http://example.com:99999/", None),
])
def test_urls_are_normalised(url: str, expected: str | None) -> None:
    assert normalize(url) == expected


def test_an_href_that_cannot_be_parsed_is_skipped_and_the_crawl_goes_on(site: str, tmp_path: Path) -> None:
    assert extract_links(page("http://[bad", "/ok.html"), "http://y.example/") == ["http://y.example/ok.html"]
    stats, lines = crawl(make_spec(site), tmp_path)
    by_url = {line["url"]: line for line in lines}
    assert by_url[f"{site}/deep/2.html"]["outcome"] == "fetched"  # found on the page with the broken href
    assert by_url[f"{site}/deep/2.html"]["referer"] == f"{site}/deep/1.html"
    assert not any("[bad" in url for url in by_url)


def test_links_honour_the_base_tag_and_skip_non_http() -> None:
    body = b'<html><head><base href="http://x.example/d/"></head><body><a href="p.html">1</a>' \
           b'<a href=" /q.html ">2</a><a href="javascript:x()">3</a><a href="#top">4</a><area href="r.html"></body></html>'
    assert extract_links(body, "http://y.example/") == [
        "http://x.example/d/p.html", "http://x.example/q.html", "http://x.example/d/r.html"]
