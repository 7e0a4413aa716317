"""What is on-site: allowed_domains with host:port, and allowed_prefixes, for sites that share a host.

Two sites on two ports of 127.0.0.1 that link to each other, crawled through the luigi CLI and a
real luigid; each URL's outcome in urls.jsonl says which entries held the crawl where.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.exceptions import SpecError
from pipelines.spec import parse_spec
from tests.conftest import Luigid
from tests.servers.faults import BackgroundServer, QuietHandler


class _Pages(QuietHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        body = self.server.owner.pages.get(self.path)  # type: ignore[attr-defined]
        data = (body or "<h1>not found</h1>").encode()
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class Site(BackgroundServer):
    handler_class = _Pages

    def __init__(self) -> None:
        super().__init__()
        self.pages: dict[str, str] = {}


@pytest.fixture(scope="module")
def sites() -> Iterator[tuple[Site, Site]]:
    """A: a shop under /shop/ and a blog under /blog/; B: another shop. Each links to the other."""
    with Site() as a, Site() as b:
        a.pages = {
            "/shop/": f'<a href="/shop/p1.html">1</a> <a href="p2.html">2</a> <a href="/blog/">blog</a> '
                      f'<a href="{b.url}/shop/">other shop</a>',
            "/shop/p1.html": "<h1>one</h1>",
            "/shop/p2.html": f'<h1>two</h1> <a href="{b.url}/shop/x.html">x</a>',
            "/blog/": '<a href="/blog/post.html">post</a>',
            "/blog/post.html": "<h1>post</h1>",
        }
        b.pages = {"/shop/": '<a href="/shop/x.html">x</a>', "/shop/x.html": "<h1>x</h1>"}
        yield a, b


def crawl(luigid: Luigid, name: str, start: str, scope: str, at: str) -> dict[str, tuple[str, str | None]]:
    (luigid.spec_dir / f"{name}.toml").write_text(f"""
name = "{name}"
start_urls = ["{start}"]
{scope}
[fetch]
obey_robots = false
[fields.title]
css = "h1::text"
""")
    result = luigid.run("RunCrawl", "--crawl", name, "--at", at)
    assert result.returncode == 0, result.stderr[-3000:]
    tick = at.replace("-", "").replace(":", "")
    lines = (luigid.data_dir / name / f"{tick}Z" / "fetch" / "urls.jsonl").read_text().splitlines()
    return {(o := json.loads(line))["url"]: (o["outcome"], o["reason"]) for line in lines}


def test_a_host_port_entry_holds_the_crawl_to_that_port(luigid: Luigid, sites: tuple[Site, Site]) -> None:
    a, b = sites
    outcomes = crawl(luigid, "scope-port", f"{a.url}/shop/", f'allowed_domains = ["127.0.0.1:{a.port}"]',
                     "2026-11-21T0700")
    assert outcomes == {
        f"{a.url}/shop/": ("fetched", None),
        f"{a.url}/shop/p1.html": ("fetched", None),
        f"{a.url}/shop/p2.html": ("fetched", None),
        f"{a.url}/blog/": ("fetched", None),
        f"{a.url}/blog/post.html": ("fetched", None),
        f"{b.url}/shop/": ("skipped", "offsite"),
        f"{b.url}/shop/x.html": ("skipped", "offsite"),
    }


def test_an_allowed_prefix_holds_the_crawl_to_one_site_of_a_shared_host(luigid: Luigid,
                                                                       sites: tuple[Site, Site]) -> None:
    a, b = sites
    outcomes = crawl(luigid, "scope-prefix", f"{a.url}/shop/", f'allowed_prefixes = ["{a.url}/shop/"]',
                     "2026-11-21T0700")
    assert outcomes == {
        f"{a.url}/shop/": ("fetched", None),
        f"{a.url}/shop/p1.html": ("fetched", None),
        f"{a.url}/shop/p2.html": ("fetched", None),
        f"{a.url}/blog/": ("skipped", "offsite"),
        f"{b.url}/shop/": ("skipped", "offsite"),
        f"{b.url}/shop/x.html": ("skipped", "offsite"),
    }


def test_a_bare_host_still_allows_every_port(luigid: Luigid, sites: tuple[Site, Site]) -> None:
    a, b = sites
    outcomes = crawl(luigid, "scope-host", f"{a.url}/shop/", 'allowed_domains = ["127.0.0.1"]', "2026-11-21T0700")
    assert {url for url, (outcome, _) in outcomes.items() if outcome == "fetched"} == {
        f"{a.url}/shop/", f"{a.url}/shop/p1.html", f"{a.url}/shop/p2.html", f"{a.url}/blog/",
        f"{a.url}/blog/post.html", f"{b.url}/shop/", f"{b.url}/shop/x.html"}


def test_entries_of_both_lists_add_up(luigid: Luigid, sites: tuple[Site, Site]) -> None:
    a, b = sites
    scope = f'allowed_domains = ["127.0.0.1:{b.port}"]\nallowed_prefixes = ["{a.url}/shop/"]'
    outcomes = crawl(luigid, "scope-both", f"{a.url}/shop/", scope, "2026-11-21T0700")
    assert outcomes[f"{b.url}/shop/x.html"] == ("fetched", None)
    assert outcomes[f"{a.url}/blog/"] == ("skipped", "offsite")


# -- validation: one sentence per bad entry ------------------------------------------------------

def spec(**keys: object) -> dict:
    return {"name": "s", "start_urls": ["http://shop.example:8080/shop/"], "fields": {"t": {"css": "h1"}}, **keys}


@pytest.mark.parametrize(("keys", "sentence"), [
    ({"allowed_domains": ["shop.example:99999"]},
     "allowed_domains: expected a port from 1 to 65535 after the host, got 'shop.example:99999'"),
    ({"allowed_domains": ["shop.example:http"]},
     "allowed_domains: expected a port from 1 to 65535 after the host, got 'shop.example:http'"),
    ({"allowed_domains": ["http://shop.example/"]},
     "allowed_domains: expected a host name or host:port without scheme or path, got 'http://shop.example/'"),
    ({"allowed_domains": ["::1:8080"]},
     "allowed_domains: expected an IPv6 address in brackets ([::1] or [::1]:8080), got '::1:8080'"),
    ({"allowed_domains": [":8080"]},
     "allowed_domains: expected a host name or host:port without scheme or path, got ':8080'"),
    ({"allowed_prefixes": ["shop.example/shop/"]},
     "allowed_prefixes: expected absolute http(s) URL prefixes such as 'http://127.0.0.1:18090/shop/', "
     "got 'shop.example/shop/'"),
    ({"allowed_prefixes": ["http://shop.example:8080/shop/?page=1"]},
     "allowed_prefixes: expected a scheme, host, port and path, without a query or #fragment, "
     "got 'http://shop.example:8080/shop/?page=1'"),
    ({"allowed_prefixes": ["http://shop.example:0/"]},
     "allowed_prefixes: expected a port from 1 to 65535, got 'http://shop.example:0/'"),
    ({}, "allowed_domains: is missing; expected a list of host names or host:port (or give allowed_prefixes)"),
    ({"allowed_domains": ["shop.example:9090"]},
     "start_urls: 'http://shop.example:8080/shop/' is outside allowed_domains (shop.example:9090)"),
    ({"allowed_prefixes": ["http://shop.example:8080/blog/"]},
     "start_urls: 'http://shop.example:8080/shop/' is outside allowed_prefixes (http://shop.example:8080/blog/)"),
])
def test_a_bad_entry_is_one_sentence(keys: dict, sentence: str) -> None:
    with pytest.raises(SpecError) as error:
        parse_spec(spec(**keys), Path("s.toml"))
    assert str(error.value) == f"s.toml: {sentence}"


@pytest.mark.parametrize(("keys", "url", "allowed"), [
    ({"allowed_domains": ["shop.example:8080"]}, "http://shop.example:8080/a", True),
    ({"allowed_domains": ["shop.example:8080"]}, "http://www.shop.example:8080/a", True),
    ({"allowed_domains": ["shop.example:8080"]}, "http://shop.example:8081/a", False),
    ({"allowed_domains": ["shop.example:8080"]}, "http://shop.example/a", False),
    ({"allowed_domains": ["shop.example:8080", "Cdn.Example:443"]}, "https://cdn.example/i.png", True),
    ({"allowed_domains": ["shop.example:8080", "cdn.example:443"]}, "http://cdn.example/i.png", False),
    ({"allowed_domains": ["shop.example"]}, "http://shop.example:9999/a", True),
    ({"allowed_domains": ["[::1]:8080"], "start_urls": ["http://[::1]:8080/"]}, "http://[::1]:8080/x", True),
    ({"allowed_domains": ["[::1]"], "start_urls": ["http://[::1]:8080/"]}, "http://[::1]:9/x", True),
    ({"allowed_prefixes": ["HTTP://Shop.Example:8080/shop/"]}, "http://shop.example:8080/shop/a/b", True),
    ({"allowed_prefixes": ["http://shop.example:8080/shop/"]}, "http://shop.example:8080/Shop/a", False),
    ({"allowed_prefixes": ["http://shop.example:8080/shop/"]}, "https://shop.example:8080/shop/a", False),
])
def test_which_urls_are_on_site(keys: dict, url: str, allowed: bool) -> None:
    assert parse_spec(spec(**keys), Path("s.toml")).allows_url(url) is allowed
