"""The middleware manager: order, enabling and disabling, Scrapy's return semantics."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

import pytest

from pipelines.exceptions import ConnectionFailed, MiddlewareError, SpecError
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, FetchStats, MiddlewareManager, resolve_order
from pipelines.spec import parse_spec
from tests.pipelines import custom_middlewares


class FakeDownloader:
    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []

    def fetch(self, request: Request) -> Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if self.answers else 200
        if isinstance(answer, Exception):
            raise answer
        status, headers = (answer, []) if isinstance(answer, int) else answer
        return Response(request.url, status, "", [("Content-Type", "text/html"), *headers], b"<p>x</p>", request, 0.01)

    def close(self) -> None:
        pass


def spec(middlewares: str = "", fetch: str = "obey_robots = false"):
    text = f"""
start_urls = ["http://s.example/"]
allowed_domains = ["s.example"]
[fetch]
{fetch}
[fields.t]
css = "p::text"
[middlewares]
{middlewares}
"""
    return parse_spec(tomllib.loads(text), Path("t.toml"))


def manager(s, downloader: FakeDownloader) -> MiddlewareManager:
    return MiddlewareManager(CrawlContext(s, FetchStats(), downloader), downloader)


def test_the_default_order_is_by_number() -> None:
    numbers = [n for _, n in resolve_order({})]
    assert numbers == sorted(numbers)
    assert resolve_order({})[0][0].endswith("RobotsTxtMiddleware")


def test_a_spec_can_disable_reorder_and_add_middlewares() -> None:
    s = spec('retry = "none"\nredirect = 50\n"tests.pipelines.custom_middlewares.Tagging" = 560')
    m = manager(s, FakeDownloader())
    names = [type(x).__name__ for x in m.middlewares]
    assert "RetryMiddleware" not in names
    assert names[0] == "RedirectMiddleware"
    assert "Tagging" in names
    assert any(e.endswith("Tagging") and e.startswith("560") for e in m.enabled)


def test_process_request_runs_in_order_and_process_response_in_reverse() -> None:
    custom_middlewares.CALLS.clear()
    s = spec('"tests.pipelines.custom_middlewares.Tagging" = 10')
    downloader = FakeDownloader(200)
    response = manager(s, downloader).download(Request("http://s.example/"))
    assert isinstance(response, Response)
    assert downloader.requests[0].headers["X-Tag"] == "yes"
    assert custom_middlewares.CALLS == ["tag.request", "tag.response"]


def test_a_response_from_process_request_skips_the_download() -> None:
    s = spec('"tests.pipelines.custom_middlewares.ShortCircuit" = 10')
    downloader = FakeDownloader()
    response = manager(s, downloader).download(Request("http://s.example/"))
    assert isinstance(response, Response) and response.body == b"<p>canned</p>"
    assert downloader.requests == []


def test_a_wrong_return_value_names_the_middleware_and_the_method() -> None:
    s = spec('"tests.pipelines.custom_middlewares.Wrong" = 10')
    with pytest.raises(MiddlewareError, match=r"custom_middlewares\.Wrong\.process_response returned str; "
                                              r"expected a Response or a Request"):
        manager(s, FakeDownloader(200)).download(Request("http://s.example/"))


def test_retry_returns_a_delayed_request_and_a_response_when_exhausted() -> None:
    s = spec(fetch="obey_robots = false\nretries = 1\nretry_backoff = 10")
    m = manager(s, FakeDownloader((503, [("Retry-After", "30")]), (503, [])))
    retry = m.download(Request("http://s.example/"))
    assert isinstance(retry, Request) and retry.attempt == 2
    assert retry.meta["retry_reasons"] == ["http_503"]
    import time
    assert retry.meta["not_before"] - time.monotonic() > 25  # Retry-After 30 s beats the 5..15 s backoff
    final = m.download(retry)
    assert isinstance(final, Response) and final.status == 503


def test_a_connection_error_is_retried_then_raised() -> None:
    s = spec(fetch="obey_robots = false\nretries = 1\nretry_backoff = 0")
    m = manager(s, FakeDownloader(ConnectionFailed("refused"), ConnectionFailed("refused")))
    retry = m.download(Request("http://s.example/"))
    assert isinstance(retry, Request)
    with pytest.raises(ConnectionFailed):
        m.download(retry)


def test_the_enabled_list_is_logged_when_a_crawl_starts(caplog: pytest.LogCaptureFixture, tmp_path: Path) -> None:
    import io

    from pipelines.fetch.crawler import Crawler
    from pipelines.warc import PageWriter

    with open(tmp_path / "w.warc.gz", "wb") as fh, caplog.at_level(logging.INFO, "pipelines.fetch"):
        crawler = Crawler(spec('retry = "none"'), PageWriter(fh, {}), io.StringIO(), downloader=FakeDownloader(200))
        crawler.run()
    line = next(r.getMessage() for r in caplog.records if "enabled middlewares" in r.getMessage())
    assert "RedirectMiddleware" in line and "RetryMiddleware" not in line


@pytest.mark.parametrize(("entry", "problem"), [
    ("retyr = 5", "unknown middleware; built-ins are"),
    ('"no.such.module.Class" = 5', "module 'no.such.module' cannot be found"),
    ('retry = "off"', 'expected an order number or "none"'),
])
def test_bad_middleware_entries_are_spec_errors(entry: str, problem: str) -> None:
    with pytest.raises(SpecError, match=problem):
        spec(entry)
