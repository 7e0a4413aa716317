"""A crawl against a hostile server finishes, and every URL ends with the right outcome.

The fault-injection server (tests/servers/faults.py) hangs, resets, throttles,
redirects in loops and to error pages, truncates, floods, drips, lies about
charsets and compresses three ways. Timeouts are short here so a crawl that
waited for a hang or a drip would show it in its outcomes.
"""

from __future__ import annotations

import io
import json
import logging
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.fetch.crawler import Crawler
from pipelines.parse import Extractor
from pipelines.spec import parse_spec
from pipelines.warc import PageWriter, read_pages
from tests.servers import (
    CHARSET_BOM_TEXT,
    CHARSET_HEADER_LIES_TEXT,
    CHARSET_NONE_TEXT,
    FaultServer,
    ForwardProxy,
    closed_port,
)

TIMEOUT = 1.5


@pytest.fixture(scope="module")
def faults() -> Iterator[FaultServer]:
    with FaultServer(hang_seconds=30, drip_seconds=10) as server:
        yield server


def make_spec(start: str, fetch: str = "", extra: str = "", domains: str = '"127.0.0.1"'):
    text = f"""
start_urls = ["{start}"]
allowed_domains = [{domains}]
{extra}
[fetch]
concurrency = 8
timeout = {TIMEOUT}
retries = 2
retry_backoff = 0.2
max_bytes = 1048576
{fetch}
[fields.h1]
css = "h1::text"
"""
    return parse_spec(tomllib.loads(text), Path("t.toml"))


def crawl(spec, tmp_path: Path) -> tuple[dict, dict[str, dict]]:
    outcomes = io.StringIO()
    with open(tmp_path / "pages.warc.gz", "wb") as fh:
        stats = Crawler(spec, PageWriter(fh, {}), outcomes).run()
    lines = [json.loads(line) for line in outcomes.getvalue().splitlines()]
    by_path = {"/" + line["url"].split("/", 3)[3]: line for line in lines if line["url"].startswith("http://127.0.0.1")}
    assert len(lines) == stats["discovered"]
    assert stats["fetched"] + stats["failed"] + stats["skipped"] == stats["discovered"]
    return stats, by_path


@pytest.fixture(scope="module")
def hostile_crawl(faults: FaultServer, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, dict, Path]:
    faults.reset_hits()
    faults.reset_keys()
    tmp = tmp_path_factory.mktemp("hostile")
    spec = make_spec(faults.url + "/", fetch='retry_on_body = ["Service temporarily unavailable"]')
    stats, outcomes = crawl(spec, tmp)
    return stats, outcomes, tmp


def outcome(outcomes: dict, path: str) -> tuple[str, str | None]:
    line = outcomes[path]
    return line["outcome"], line["reason"]


@pytest.mark.parametrize(("path", "expected"), [
    ("/hang?seconds=30", ("failed", "timeout")),
    ("/drip?seconds=10", ("failed", "timeout")),
    ("/reset", ("failed", "connection_error")),
    ("/truncate", ("failed", "truncated")),
    ("/big?mb=20", ("failed", "too_large")),
    ("/status/404", ("failed", "http_404")),
    ("/status/500?fail=2&key=index-500", ("fetched", None)),
    ("/status/503?fail=1&key=index-503&retry_after=1", ("fetched", None)),
    ("/status/429?fail=1&key=index-429&retry_after=1", ("fetched", None)),
    ("/soft-error?fail=1&key=index", ("fetched", None)),
    ("/redirect/to-error", ("failed", "error_redirect")),
    ("/redirect/chain?n=0", ("fetched", None)),
    ("/private/x", ("skipped", "robots")),
    ("/encoding/gzip", ("fetched", None)),
    ("/encoding/deflate", ("fetched", None)),
    ("/encoding/br", ("fetched", None)),
    ("/encoding/bad-gzip", ("failed", "decode_error")),
    ("/cookie/check", ("fetched", None)),
])
def test_each_url_ends_with_the_right_outcome(hostile_crawl: tuple, path: str, expected: tuple) -> None:
    _, outcomes, _ = hostile_crawl
    assert outcome(outcomes, path) == expected


def test_a_redirect_loop_fails_as_a_loop(hostile_crawl: tuple) -> None:
    _, outcomes, _ = hostile_crawl
    loop = [outcome(outcomes, p) for p in ("/redirect/loop/a", "/redirect/loop/b")]
    assert ("failed", "redirect_loop") in loop


def test_retries_follow_the_settings(hostile_crawl: tuple, faults: FaultServer) -> None:
    stats, outcomes, _ = hostile_crawl
    assert outcomes["/status/500?fail=2&key=index-500"]["attempts"] == 3
    hits = faults.hits("/status/500")
    assert len(hits) == 3
    gaps = [b.time - a.time for a, b in zip(hits, hits[1:], strict=False)]
    # backoff 0.2 s * 2^(n-1), jitter 0.5..1.5: at least 0.1 s then 0.2 s
    assert gaps[0] >= 0.1 and gaps[1] >= 0.2
    retry_after = faults.hits("/status/503")
    assert len(retry_after) == 2 and retry_after[1].time - retry_after[0].time >= 1.0  # Retry-After: 1
    assert len(faults.hits("/status/404")) == 1  # not a retryable status
    assert len(faults.hits("/hang")) == 3 and len(faults.hits("/reset")) == 3  # transient: retried twice
    assert len(faults.hits("/redirect/to-error")) == 3
    assert stats["retries_by_reason"]["http_500"] == 2
    assert stats["retries_by_reason"]["timeout"] >= 2
    assert len(faults.hits("/private/")) == 0


def test_charsets_are_decoded_right_even_when_the_header_lies(hostile_crawl: tuple) -> None:
    _, _, tmp = hostile_crawl
    extractor_spec = parse_spec(tomllib.loads(
        'start_urls = ["http://127.0.0.1/"]\nallowed_domains = ["127.0.0.1"]\n[fields.text]\nxpath = "//body"'),
        Path("t.toml"))
    texts = {}
    for page in read_pages(tmp / "pages.warc.gz"):
        if "/charset/" in page.url:
            item = Extractor(extractor_spec).extract(page.url, page.body, page.encoding or "utf-8")
            texts[page.url.rsplit("/", 1)[1]] = item["text"]
    assert CHARSET_HEADER_LIES_TEXT in texts["header-lies"]
    assert CHARSET_NONE_TEXT in texts["none"]
    assert CHARSET_BOM_TEXT in texts["bom"]


def test_compressed_bodies_are_stored_decoded(hostile_crawl: tuple) -> None:
    _, _, tmp = hostile_crawl
    bodies = {p.url.rsplit("/", 1)[1]: p for p in read_pages(tmp / "pages.warc.gz") if "/encoding/" in p.url}
    for name in ("gzip", "deflate", "br"):
        assert b"OK /encoding/" + name.encode() in bodies[name].body
        assert bodies[name].header("Content-Encoding") is None


def test_a_dead_proxy_is_dropped_and_every_page_comes_through_the_good_one(
        faults: FaultServer, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    faults.reset_hits()
    with ForwardProxy("good-proxy", username="crawler", password="s3cret-pw") as good:
        bad = f"http://127.0.0.1:{closed_port()}"
        creds = good.url.replace("http://", "http://crawler:s3cret-pw@")
        spec = make_spec(faults.url + "/cookie/set", fetch=f'proxies = ["{bad}", "{creds}"]\nproxy_max_failures = 2')
        with caplog.at_level(logging.INFO):
            stats, outcomes = crawl(spec, tmp_path)
        assert outcome(outcomes, "/cookie/set") == ("fetched", None)
        assert outcome(outcomes, "/cookie/check") == ("fetched", None)
        assert stats["middleware"]["proxy/dropped"] == 1
        assert {url.split("/", 3)[3] for _, url in good.requests} >= {"cookie/set", "cookie/check"}
        via = [h.headers.get("Via") for h in faults.hits("")]  # robots.txt too
        assert via and all(v and "good-proxy" in v for v in via)
    assert "s3cret-pw" not in caplog.text
    assert "s3cret-pw" not in json.dumps(stats)
    assert "***@" in caplog.text or "dropped proxy http://127.0.0.1" in caplog.text


def test_a_crawl_of_dripping_pages_ends_in_bounded_time_with_every_url_accounted(
        faults: FaultServer, tmp_path: Path) -> None:
    # Eight pages dripping their heads or bodies for 8 s each: every attempt is cut at TIMEOUT,
    # so three attempts (make_spec: retries = 2) and the backoffs between them bound the crawl.
    phases = ["head", "body"]
    urls = [f"{faults.url}/drip/{phases[i % 2]}?interval=0.1&seconds=8&page={i}" for i in range(8)]
    spec = make_spec(urls[0])
    object.__setattr__(spec, "start_urls", (*urls, f"{faults.url}/slow?ms=1&page=ok"))  # a crawl with no page aborts
    started = time.monotonic()
    stats, outcomes = crawl(spec, tmp_path)      # asserts fetched + failed + skipped == discovered
    elapsed = time.monotonic() - started
    drips = {path: line for path, line in outcomes.items() if path.startswith("/drip/")}
    assert len(drips) == len(urls) and stats["fetched"] == 1
    assert all((line["outcome"], line["reason"], line["attempts"]) == ("failed", "timeout", 3)
               for line in drips.values()), drips
    backoffs = 0.2 * 1.5 + 0.4 * 1.5                # retry_backoff 0.2 s * 2^(n-1), jitter up to 1.5
    # + 1 s for robots.txt, the crawl around the fetches and a loaded machine; each drip lasts 3 * 8 s uncut
    assert elapsed <= 3 * 1.1 * TIMEOUT + backoffs + 1.0, f"the crawl took {elapsed:.1f}s"


def test_user_agents_rotate(faults: FaultServer, tmp_path: Path) -> None:
    faults.reset_hits()
    agents = [f"agent-{i}" for i in range(4)]
    spec = make_spec(faults.url + "/echo", fetch=f"user_agents = {json.dumps(agents)}\nobey_robots = false",
                     extra="max_pages = 1")
    for _ in range(12):
        crawl(spec, tmp_path)
    seen = {h.headers.get("User-Agent") for h in faults.hits("/echo")}
    assert seen <= set(agents) and len(seen) >= 2


def test_the_http_cache_replays_without_touching_the_site(faults: FaultServer, tmp_path: Path) -> None:
    spec = make_spec(faults.url + "/echo", fetch=f'httpcache = true\nhttpcache_dir = "{tmp_path}/cache"\n'
                                                 "obey_robots = false", extra="max_pages = 1")
    crawl(spec, tmp_path)
    faults.reset_hits()
    stats, outcomes = crawl(spec, tmp_path)
    assert outcome(outcomes, "/echo") == ("fetched", None)
    assert faults.hits("/echo") == []
    assert stats["middleware"]["httpcache/hit"] == 1


def test_a_per_domain_delay_spaces_requests(faults: FaultServer, tmp_path: Path) -> None:
    faults.reset_hits()
    spec = make_spec(faults.url + "/echo", fetch="delay = 0.3\nrandomize_delay = false\nobey_robots = false",
                     extra="max_pages = 6")
    # /echo links nowhere; start from several URLs on the same host
    object.__setattr__(spec, "start_urls", tuple(f"{faults.url}/slow?ms=1&n={i}" for i in range(5)))
    crawl(spec, tmp_path)
    times = sorted(h.time for h in faults.hits("/slow"))
    assert len(times) == 5
    # Starts are 0.3 s apart; arrivals may bunch up by the time a thread waits for the CPU,
    # so check the span of the five arrivals, not each gap.
    assert times[-1] - times[0] >= 4 * 0.3 - 0.05


def test_a_logged_in_crawl_uses_cookies_and_user_agents_from_files(faults: FaultServer, tmp_path: Path) -> None:
    faults.reset_hits()
    (tmp_path / "cookies.txt").write_text(
        "# Netscape HTTP Cookie File\n127.0.0.1\tFALSE\t/\tFALSE\t0\tsession\tabc123\n")
    (tmp_path / "agents.txt").write_text("# one per line\nfile-agent/1.0\n")
    text = f"""
start_urls = ["{faults.url}/cookie/check"]
allowed_domains = ["127.0.0.1"]
max_pages = 1
[fetch]
cookies_file = "cookies.txt"
user_agents_file = "agents.txt"
obey_robots = false
[fields.h1]
css = "h1::text"
"""
    (tmp_path / "logged-in.toml").write_text(text)
    from pipelines.spec import load_spec

    stats, outcomes = crawl(load_spec(str(tmp_path / "logged-in.toml")), tmp_path)
    assert outcome(outcomes, "/cookie/check") == ("fetched", None)  # 403 without the cookie
    assert faults.hits("/cookie/check")[0].headers.get("User-Agent") == "file-agent/1.0"
