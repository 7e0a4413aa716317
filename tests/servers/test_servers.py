"""Quick checks that the hostile server and the test proxy misbehave exactly as documented."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import socket
import time
import zlib
from collections.abc import Iterator
from html import unescape
from urllib.parse import urlsplit

import brotli
import pytest
import urllib3
from urllib3.exceptions import DecodeError, MaxRetryError, ProtocolError, ProxyError, ReadTimeoutError

from tests.servers import (
    BAD_GZIP_BODY,
    CHARSET_BOM_TEXT,
    CHARSET_HEADER_LIES_TEXT,
    CHARSET_NONE_TEXT,
    MARKER_HTML,
    NOT_FOUND_PAGE_TEXT,
    ROBOTS_TXT,
    SOFT_ERROR_HTML,
    TRUNCATE_DECLARED,
    TRUNCATE_SENT,
    FaultServer,
    ForwardProxy,
    closed_port,
    ok_page,
)


@pytest.fixture(scope="module")
def server() -> Iterator[FaultServer]:
    with FaultServer(hang_seconds=2, drip_seconds=1, big_mb=1) as fault_server:
        yield fault_server


@pytest.fixture(scope="module")
def pool() -> urllib3.PoolManager:
    return urllib3.PoolManager(timeout=3, retries=False)


def get(pool: urllib3.PoolManager, server: FaultServer, path: str, **kwargs: object) -> urllib3.BaseHTTPResponse:
    kwargs.setdefault("redirect", False)
    return pool.request("GET", server.url + path, **kwargs)  # type: ignore[arg-type]


def is_ok(body: bytes, path: str) -> bool:
    return f"<h1>OK {path}</h1>".encode() in body and MARKER_HTML.encode() in body


# -- index, hits, keep-alive ----------------------------------------------------------

def test_index_links_every_endpoint(server: FaultServer, pool: urllib3.PoolManager) -> None:
    body = get(pool, server, "/").data.decode()
    hrefs = [unescape(h) for h in re.findall(r'href="([^"]+)"', body)]
    assert hrefs == server.index_paths()
    assert "/hang?seconds=2" in hrefs and "/drip?seconds=1" in hrefs and "/big?mb=1" in hrefs
    assert is_ok(body.encode(), "/")


def test_unknown_path_is_404(server: FaultServer, pool: urllib3.PoolManager) -> None:
    assert get(pool, server, "/no/such/page").status == 404
    assert get(pool, server, "/status/abc").status == 400


def test_hits_record_path_time_headers_client(server: FaultServer) -> None:
    server.reset_hits()
    before = time.monotonic()
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3)
    try:
        for _ in range(2):           # keep-alive: both requests on one connection
            conn.request("GET", "/echo?x=1", headers={"User-Agent": "fault-test/1.0", "X-Probe": "yes"})
            response = conn.getresponse()
            body = response.read()
            assert response.status == 200
        echoed = json.loads(unescape(re.search(rb'<pre id="headers">(.*?)</pre>', body, re.S)[1].decode()))
        assert echoed["User-Agent"] == "fault-test/1.0" and echoed["X-Probe"] == "yes"
    finally:
        conn.close()
    hits = server.hits("/echo")
    assert [h.path for h in hits] == ["/echo?x=1", "/echo?x=1"]
    assert before <= hits[0].time <= hits[1].time <= time.monotonic()
    assert hits[0].headers["user-agent"] == "fault-test/1.0" and hits[0].headers.get("X-PROBE") == "yes"
    assert hits[0].client == hits[1].client and hits[0].client[0] == "127.0.0.1"
    assert server.hits("/nothing-like-this") == []
    server.reset_hits()
    assert server.hits() == []


# -- hangs, resets, timing ---------------------------------------------------------------

def test_hang_times_out_without_blocking_others(server: FaultServer, pool: urllib3.PoolManager) -> None:
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        get(pool, server, "/hang?seconds=2", timeout=0.5)
    assert time.monotonic() - started < 1.5
    other = get(pool, server, "/slow?ms=0")   # the hanging handler holds its own thread only
    assert other.status == 200 and is_ok(other.data, "/slow")


def test_hang_answers_after_the_delay(server: FaultServer, pool: urllib3.PoolManager) -> None:
    started = time.monotonic()
    response = get(pool, server, "/hang?seconds=0.3")
    assert response.status == 200 and time.monotonic() - started >= 0.3


def test_slow_answers_after_ms(server: FaultServer, pool: urllib3.PoolManager) -> None:
    started = time.monotonic()
    response = get(pool, server, "/slow?ms=300")
    assert response.status == 200 and 0.3 <= time.monotonic() - started < 2


def test_reset_is_a_tcp_rst(server: FaultServer, pool: urllib3.PoolManager) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3)
    conn.request("GET", "/reset")
    with pytest.raises(ConnectionResetError):
        conn.getresponse()
    conn.close()
    with pytest.raises(ProtocolError) as info:
        get(pool, server, "/reset")
    assert isinstance(info.value.__context__ or info.value.args[1], ConnectionResetError)


def test_stop_returns_quickly_with_a_hanging_request() -> None:
    fault_server = FaultServer().start()
    sock = socket.create_connection(("127.0.0.1", fault_server.port), timeout=3)
    sock.sendall(b"GET /hang?seconds=60 HTTP/1.1\r\nHost: x\r\n\r\n")
    idle = socket.create_connection(("127.0.0.1", fault_server.port), timeout=3)  # an idle keep-alive client
    deadline = time.monotonic() + 2
    while not fault_server.hits("/hang") and time.monotonic() < deadline:
        time.sleep(0.01)
    started = time.monotonic()
    fault_server.stop()
    assert time.monotonic() - started < 1
    assert sock.recv(100) == b""      # the hanging request is cut, not answered
    sock.close()
    idle.close()


# -- status codes and retry state ------------------------------------------------------------

def test_status_fails_n_times_per_key(server: FaultServer, pool: urllib3.PoolManager) -> None:
    statuses = [get(pool, server, "/status/500?fail=2&key=t1").status for _ in range(3)]
    assert statuses == [500, 500, 200]
    assert get(pool, server, "/status/500?fail=2&key=t2").status == 500   # another key, its own count
    response = get(pool, server, "/status/503?fail=1&key=t3&retry_after=7")
    assert response.status == 503 and response.headers["Retry-After"] == "7"
    again = get(pool, server, "/status/503?fail=1&key=t3&retry_after=7")
    assert again.status == 200 and is_ok(again.data, "/status/503")
    assert {get(pool, server, "/status/429?key=forever").status for _ in range(3)} == {429}
    server.reset_keys()
    assert get(pool, server, "/status/500?fail=2&key=t1").status == 500


def test_soft_error_then_ok(server: FaultServer, pool: urllib3.PoolManager) -> None:
    first = get(pool, server, "/soft-error?fail=1&key=s1")
    assert first.status == 200 and SOFT_ERROR_HTML.encode() in first.data and MARKER_HTML.encode() not in first.data
    second = get(pool, server, "/soft-error?fail=1&key=s1")
    assert second.status == 200 and is_ok(second.data, "/soft-error")


# -- redirects --------------------------------------------------------------------------------

def test_redirects(server: FaultServer, pool: urllib3.PoolManager) -> None:
    loop_a = get(pool, server, "/redirect/loop/a")
    assert (loop_a.status, loop_a.headers["Location"]) == (302, "/redirect/loop/b")
    assert get(pool, server, "/redirect/loop/b").headers["Location"] == "/redirect/loop/a"
    with pytest.raises(MaxRetryError):
        pool.request("GET", server.url + "/redirect/loop/a", retries=urllib3.Retry(redirect=5, total=None))
    assert get(pool, server, "/redirect/chain?n=3").headers["Location"] == "/redirect/chain?n=2"
    end = pool.request("GET", server.url + "/redirect/chain?n=3", retries=urllib3.Retry(redirect=5, total=None))
    assert end.status == 200 and is_ok(end.data, "/redirect/chain")
    assert get(pool, server, "/redirect/to-error").headers["Location"] == "/404.html"
    sneaky = get(pool, server, "/404.html")
    assert sneaky.status == 200 and f"<h1>{NOT_FOUND_PAGE_TEXT}</h1>".encode() in sneaky.data


# -- broken bodies ----------------------------------------------------------------------------

def test_truncate(server: FaultServer, pool: urllib3.PoolManager) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=3)
    conn.request("GET", "/truncate")
    response = conn.getresponse()
    assert response.getheader("Content-Length") == str(TRUNCATE_DECLARED)
    with pytest.raises(http.client.IncompleteRead) as info:
        response.read()
    assert len(info.value.partial) == TRUNCATE_SENT
    conn.close()
    with pytest.raises(ProtocolError):
        get(pool, server, "/truncate")


def test_big_is_streamed_with_exact_length(server: FaultServer, pool: urllib3.PoolManager) -> None:
    response = get(pool, server, "/big?mb=2", preload_content=False)
    assert response.headers["Content-Length"] == str(2 * 1024 * 1024)
    body = b"".join(response.stream(256 * 1024))
    assert len(body) == 2 * 1024 * 1024 and is_ok(body, "/big") and body.endswith(b"</html>\n")
    head = pool.request("HEAD", server.url + "/big?mb=20")
    assert head.headers["Content-Length"] == str(20 * 1024 * 1024)


def test_drip(server: FaultServer, pool: urllib3.PoolManager) -> None:
    started = time.monotonic()
    response = get(pool, server, "/drip?seconds=1", preload_content=False, timeout=urllib3.Timeout(read=0.5))
    assert time.monotonic() - started < 0.5          # headers at once
    assert response.headers["Content-Length"] == "5"
    arrivals = [(time.monotonic() - started, chunk) for chunk in response.stream(1)]
    assert len(arrivals) == 5 and all(len(chunk) == 1 for _, chunk in arrivals)
    assert 0.9 <= arrivals[-1][0] < 2                 # a read timeout never fires; only a total deadline would


# -- charsets and content encodings ------------------------------------------------------------

def test_charsets(server: FaultServer, pool: urllib3.PoolManager) -> None:
    lies = get(pool, server, "/charset/header-lies")
    assert lies.headers["Content-Type"] == "text/html; charset=iso-8859-1"
    assert CHARSET_HEADER_LIES_TEXT in lies.data.decode("utf-8") and b'<meta charset="utf-8">' in lies.data

    none = get(pool, server, "/charset/none")
    assert none.headers["Content-Type"] == "text/html"
    assert CHARSET_NONE_TEXT in none.data.decode("windows-1252") and b"charset=windows-1252" in none.data
    with pytest.raises(UnicodeDecodeError):
        none.data.decode("utf-8")

    bom = get(pool, server, "/charset/bom")
    assert bom.headers["Content-Type"] == "text/html" and bom.data.startswith(b"\xef\xbb\xbf")
    assert b"charset=" not in bom.data and b"<meta" not in bom.data and CHARSET_BOM_TEXT in bom.data.decode("utf-8-sig")


@pytest.mark.parametrize(("encoding", "decode"), [
    ("gzip", gzip.decompress), ("deflate", zlib.decompress), ("br", brotli.decompress)])
def test_encodings(server: FaultServer, pool: urllib3.PoolManager, encoding: str, decode: object) -> None:
    raw = get(pool, server, f"/encoding/{encoding}", headers={"Accept-Encoding": "identity"}, decode_content=False)
    assert raw.headers["Content-Encoding"] == encoding
    assert decode(raw.data) == ok_page(f"/encoding/{encoding}")  # type: ignore[operator]
    assert is_ok(get(pool, server, f"/encoding/{encoding}").data, f"/encoding/{encoding}")  # urllib3 decodes


def test_bad_gzip(server: FaultServer, pool: urllib3.PoolManager) -> None:
    assert get(pool, server, "/encoding/bad-gzip", decode_content=False).data == BAD_GZIP_BODY
    with pytest.raises(DecodeError):
        get(pool, server, "/encoding/bad-gzip")


# -- robots, cookies ---------------------------------------------------------------------------

def test_robots_and_private(server: FaultServer, pool: urllib3.PoolManager) -> None:
    robots = get(pool, server, "/robots.txt")
    assert robots.data.decode() == ROBOTS_TXT and robots.headers["Content-Type"].startswith("text/plain")
    assert get(pool, server, "/private/x").status == 200


def test_cookies(server: FaultServer, pool: urllib3.PoolManager) -> None:
    assert get(pool, server, "/cookie/check").status == 403
    setter = get(pool, server, "/cookie/set")
    assert setter.headers["Set-Cookie"] == "session=abc123; Path=/" and b'href="/cookie/check"' in setter.data
    checked = get(pool, server, "/cookie/check", headers={"Cookie": "other=1; session=abc123"})
    assert checked.status == 200 and is_ok(checked.data, "/cookie/check")
    assert get(pool, server, "/cookie/check", headers={"Cookie": "session=wrong"}).status == 403


# -- the proxy ---------------------------------------------------------------------------------

def test_proxy_forwards_and_adds_via(server: FaultServer) -> None:
    with ForwardProxy("proxy-a") as proxy:
        manager = urllib3.ProxyManager(proxy.url, timeout=3, retries=False)
        response = manager.request("GET", server.url + "/echo?via=1")
        assert response.status == 200 and response.headers["Via"] == "1.1 proxy-a"
        assert is_ok(response.data, "/echo")
        assert server.hits("/echo?via=1")[-1].headers["Via"] == "1.1 proxy-a"   # the origin sees it too
        encoded = manager.request("GET", server.url + "/encoding/br", decode_content=False)
        assert brotli.decompress(encoded.data) == ok_page("/encoding/br")     # bytes relayed untouched
        redirect = manager.request("GET", server.url + "/redirect/loop/a", redirect=False)
        assert (redirect.status, redirect.headers["Location"]) == (302, "/redirect/loop/b")
        assert proxy.requests == [("GET", server.url + "/echo?via=1"), ("GET", server.url + "/encoding/br"),
                                  ("GET", server.url + "/redirect/loop/a")]


def test_proxy_keep_alive_and_errors(server: FaultServer) -> None:
    with ForwardProxy("proxy-b", timeout=0.5) as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=3)
        try:
            for path in ("/slow?ms=0", "/status/500?key=proxy", f"http://127.0.0.1:{closed_port()}/",
                         "/hang?seconds=2", "/reset", "/slow?ms=0"):
                conn.request("GET", path if path.startswith("http") else server.url + path)
                response = conn.getresponse()
                response.read()
                expected = {"/status/500?key=proxy": 500, "/hang?seconds=2": 504, "/reset": 502}
                assert response.status == expected.get(path, 502 if path.startswith("http") else 200), path
            assert conn.sock is not None                  # all on one client connection
            conn.request("GET", "/relative")
            assert conn.getresponse().status == 400
        finally:
            conn.close()
        with pytest.raises(ProtocolError):                # a truncated origin body stays truncated
            urllib3.ProxyManager(proxy.url, timeout=3, retries=False).request("GET", server.url + "/truncate")


def test_proxy_auth(server: FaultServer) -> None:
    with ForwardProxy("proxy-c", "user", "secret") as proxy:
        anonymous = urllib3.ProxyManager(proxy.url, timeout=3, retries=False).request("GET", server.url + "/")
        assert anonymous.status == 407 and anonymous.headers["Proxy-Authenticate"] == 'Basic realm="proxy-c"'
        wrong = urllib3.ProxyManager(proxy.url, timeout=3, retries=False,
                                     proxy_headers=urllib3.make_headers(proxy_basic_auth="user:nope"))
        assert wrong.request("GET", server.url + "/").status == 407
        good = urllib3.ProxyManager(proxy.url, timeout=3, retries=False,
                                    proxy_headers=urllib3.make_headers(proxy_basic_auth="user:secret"))
        assert good.request("GET", server.url + "/").status == 200
        assert proxy.requests == [("GET", server.url + "/")] and len(proxy.rejected) == 2
        assert "Proxy-Authorization" not in server.hits("/")[-1].headers   # never leaked to the origin


def test_closed_port_refuses(server: FaultServer) -> None:
    port = closed_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    manager = urllib3.ProxyManager(f"http://127.0.0.1:{port}", timeout=1, retries=False)
    with pytest.raises((ProxyError, MaxRetryError)):
        manager.request("GET", server.url + "/")
    assert urlsplit(server.url).port != port
