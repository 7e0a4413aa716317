"""`[fetch] timeout` is a deadline for the whole response, whatever the server drips.

A socket read timeout restarts with every byte, so a server that sends one
byte a second (or a header line at a time, or a burst just before each read
timeout would fire) could hold a fetch for as long as it liked. These tests
drip every phase of a response from a real local server (tests/servers/faults.py,
/drip/head and /drip/body) and check that each fetch fails as `timeout` no
sooner than `timeout` and no later than 10 % after it (plus a fixed slack for
a loaded 2-core machine), directly, through a proxy and over TLS.
"""

from __future__ import annotations

import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.exceptions import FetchError, FetchTimeout
from pipelines.fetch.http import HttpDownloader, Request, Response
from tests.servers import FaultServer, ForwardProxy

TIMEOUT = 1.5
SLACK = 0.3          # thread wake-up and scheduling on a busy 2-core machine, not part of the contract
DRIP_SECONDS = 6     # each drip would complete after this long: far past the deadline

# (test id, path): every way of making one response last DRIP_SECONDS.
# interval=1.35 is a burst just before the socket read timeout (= TIMEOUT) would fire.
DRIPS = [
    ("head-1-byte-per-second", "/drip/head?interval=1"),
    ("head-1-byte-per-100ms", "/drip/head?interval=0.1"),
    ("head-bursts-under-the-read-timeout", "/drip/head?interval=1.35&burst=40"),
    ("body-1-byte-per-second", "/drip/body?interval=1"),
    ("body-1-byte-per-100ms", "/drip/body?interval=0.1"),
    ("body-bursts-under-the-read-timeout", "/drip/body?interval=1.35&burst=2000"),
    ("body-chunked", "/drip/body?interval=0.1&framing=chunked"),
    ("body-gzip", "/drip/body?interval=0.1&encoding=gzip"),
    ("body-gzip-chunked", "/drip/body?interval=0.05&encoding=gzip&framing=chunked"),
    ("body-until-close", "/drip/body?interval=0.1&framing=close"),   # an early EOF must not pass as the end
]


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer() as fault_server:
        yield fault_server


@pytest.fixture
def downloader() -> Iterator[HttpDownloader]:
    http = HttpDownloader(timeout=TIMEOUT, max_bytes=1024 * 1024, user_agent="deadline-test/1.0")
    yield http
    http.close()


def timed(downloader: HttpDownloader, url: str, **meta: object) -> tuple[Response | FetchError, float]:
    """The response or the FetchError of one fetch, and the seconds from its start to its end."""
    started = time.monotonic()
    try:
        result: Response | FetchError = downloader.fetch(Request(url, meta=dict(meta)))
    except FetchError as exc:
        result = exc
    return result, time.monotonic() - started


def assert_cut_at_the_deadline(result: Response | FetchError, elapsed: float) -> None:
    assert isinstance(result, FetchTimeout), f"expected a timeout, got {result!r}"
    assert result.reason == "timeout"
    assert f"within {TIMEOUT:g}s" in str(result)
    assert TIMEOUT <= elapsed <= 1.1 * TIMEOUT + SLACK, f"cut after {elapsed:.2f}s, timeout {TIMEOUT}s"


def drip_url(base: str, path: str) -> str:
    return f"{base}{path}&seconds={DRIP_SECONDS}"


@pytest.mark.parametrize("path", [p for _, p in DRIPS], ids=[i for i, _ in DRIPS])
def test_a_dripping_response_is_cut_at_the_timeout(server: FaultServer, downloader: HttpDownloader,
                                                   path: str) -> None:
    assert_cut_at_the_deadline(*timed(downloader, drip_url(server.url, path)))


def test_a_drip_through_a_proxy_is_cut_at_the_timeout(server: FaultServer, downloader: HttpDownloader) -> None:
    with ForwardProxy("drip-proxy") as proxy:
        result, elapsed = timed(downloader, drip_url(server.url, "/drip/body?interval=0.1"), proxy=proxy.url)
        assert proxy.requests, "the fetch did not go through the proxy"
    assert_cut_at_the_deadline(result, elapsed)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FaultServer, Path]]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with FaultServer(tls=context) as fault_server:
        yield fault_server, cert


@pytest.mark.parametrize("path", ["/drip/head?interval=0.1", "/drip/body?interval=0.1"], ids=["head", "body"])
def test_a_drip_over_tls_is_cut_at_the_timeout(tls_server: tuple[FaultServer, Path], downloader: HttpDownloader,
                                               monkeypatch: pytest.MonkeyPatch, path: str) -> None:
    server, cert = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))    # trust the test certificate, verification stays on
    ok, _ = timed(downloader, server.url + "/echo")
    assert isinstance(ok, Response) and ok.status == 200, ok
    assert_cut_at_the_deadline(*timed(downloader, drip_url(server.url, path)))


def test_a_slow_response_that_ends_in_time_is_whole(server: FaultServer, downloader: HttpDownloader) -> None:
    result, elapsed = timed(downloader, f"{server.url}/drip/body?interval=0.1&seconds={0.6 * TIMEOUT}&framing=close")
    assert isinstance(result, Response), result
    assert result.status == 200 and b"<h1>OK /drip/body</h1>" in result.body and result.body.endswith(b"</html>\n")
    assert elapsed >= 0.6 * TIMEOUT


def test_the_connection_pool_works_after_a_cut(server: FaultServer, downloader: HttpDownloader) -> None:
    for _ in range(3):
        ok, _ = timed(downloader, server.url + "/echo")
        assert isinstance(ok, Response) and ok.status == 200
        assert_cut_at_the_deadline(*timed(downloader, drip_url(server.url, "/drip/body?interval=0.1")))
    server.reset_hits()
    results = [timed(downloader, f"{server.url}/echo?n={i}")[0] for i in range(50)]
    assert all(isinstance(r, Response) and r.status == 200 for r in results)
    assert len({hit.client for hit in server.hits("/echo")}) == 1      # kept alive, never cut


def test_concurrent_fetches_share_one_watchdog_and_each_keeps_its_own_deadline(
        server: FaultServer, downloader: HttpDownloader) -> None:
    before = set(threading.enumerate())
    outcomes: dict[int, tuple[Response | FetchError, float]] = {}

    def work(i: int) -> None:
        # even workers fetch drips (cut at the timeout), odd ones fast pages, then one that takes half the timeout
        if i % 2:
            for _ in range(20):
                timed(downloader, f"{server.url}/echo?w={i}")
            outcomes[i] = timed(downloader, f"{server.url}/slow?ms={int(500 * TIMEOUT)}&w={i}")
        else:
            outcomes[i] = timed(downloader, drip_url(server.url, f"/drip/body?interval=0.1&w={i}"))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    new = [t for t in set(threading.enumerate()) - before if t.name.startswith("http-deadlines")]
    assert len(new) == 1 and new[0].daemon          # one watchdog for the downloader, no thread per fetch
    for i, (result, elapsed) in sorted(outcomes.items()):
        if i % 2:
            assert isinstance(result, Response) and result.status == 200, (i, result)
        else:
            assert_cut_at_the_deadline(result, elapsed)
    downloader.close()
    new[0].join(timeout=2)
    assert not new[0].is_alive()                    # close() stops it
