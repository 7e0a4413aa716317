"""The bundled demo site: generated pages and the HTTP/1.1 server that serves them.

The server runs as a real subprocess (as crawls and benchmarks use it), so these
tests cover the CLI, the ready line, signals and the wire protocol end to end.
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.robotparser
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from lxml import html as lxml_html

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) from elsewhere
    sys.path.insert(0, str(ROOT))

from pipelines.demo.server import serve_in_thread  # noqa: E402
from pipelines.demo.site import (  # noqa: E402
    JS_PRODUCT,
    PER_PAGE,
    TAGS,
    availability_text,
    build_site,
    js_payload,
    listing_pages,
    product,
    site_pages,
)

PRODUCTS = 45  # three listing pages, the last one partly filled


def _start(*args: str) -> tuple[subprocess.Popen[str], str]:
    """Start the server CLI and wait for its ready line; returns (process, base URL)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.demo.server", "--port", "0", *args],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    # readline blocks, so read in a thread to be able to time out.
    threading.Thread(target=lambda: lines.put(proc.stdout.readline()), daemon=True).start()
    try:
        line = lines.get(timeout=30)
    except queue.Empty:
        proc.kill()
        pytest.fail("demo server printed no ready line within 30 s")
    match = re.fullmatch(r"demo site serving (\d+) products at (http://127\.0\.0\.1:\d+/)\n", line)
    if not match:
        proc.kill()
        pytest.fail(f"unexpected ready line {line!r}; stderr: {proc.stderr.read()}")
    return proc, match.group(2)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    proc, url = _start("--products", str(PRODUCTS), "--quiet")
    yield url
    proc.terminate()
    proc.wait(timeout=10)


def _port(url: str) -> int:
    return urlsplit(url).port or 80


def _get(url: str, path: str, method: str = "GET") -> http.client.HTTPResponse:
    conn = http.client.HTTPConnection("127.0.0.1", _port(url), timeout=10)
    conn.request(method, path)
    resp = conn.getresponse()
    resp.body = resp.read()  # type: ignore[attr-defined]
    conn.close()
    return resp


def _doc(url: str, path: str) -> Any:
    resp = _get(url, path)
    assert resp.status == 200, path
    return lxml_html.fromstring(resp.body)  # type: ignore[attr-defined]


def _raw(url: str, data: bytes, methods: list[str], chunks: int = 1) -> tuple[list[dict[str, Any]], bool]:
    """Send raw bytes (optionally split in pieces), read one response per method.

    Returns the responses and whether the server closed the connection after them.
    """
    sock = socket.create_connection(("127.0.0.1", _port(url)), timeout=10)
    try:
        size = max(1, len(data) // chunks)
        for start in range(0, len(data), size):
            sock.sendall(data[start:start + size])
            if chunks > 1:
                time.sleep(0.01)  # make the server see separate reads
        buf = b""
        responses = []
        for method in methods:
            while b"\r\n\r\n" not in buf:
                chunk = sock.recv(65536)
                if not chunk:
                    return responses, True
                buf += chunk
            head, buf = buf.split(b"\r\n\r\n", 1)
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = {k.lower(): v.strip() for k, v in (h.split(":", 1) for h in header_lines)}
            length = 0 if method == "HEAD" else int(headers["content-length"])
            while len(buf) < length:
                chunk = sock.recv(65536)
                assert chunk, "connection closed mid-body"
                buf += chunk
            responses.append({"status": int(status_line.split()[1]), "headers": headers,
                              "body": buf[:length], "version": status_line.split()[0]})
            buf = buf[length:]
        assert buf == b"", f"unexpected extra bytes {buf[:80]!r}"
        sock.settimeout(0.5)
        try:
            closed = sock.recv(1) == b""
        except TimeoutError:
            closed = False
        return responses, closed
    finally:
        sock.close()


def _product_fields(doc: Any) -> dict[str, Any]:
    """Extract a product the way a crawl would, from product-page markup."""
    article = doc.cssselect("article.product_page")[0]
    cells = {th.text_content(): td.text_content()
             for th, td in zip(article.cssselect("table.product-info th"),
                               article.cssselect("table.product-info td"), strict=True)}
    return {
        "title": article.cssselect("h1")[0].text_content(),
        "price_text": article.cssselect("p.price_color")[0].text_content(),
        "availability_text": article.cssselect("p.availability")[0].text_content(),
        "tags": [li.text_content() for li in article.cssselect("ul.tags li")],
        "upc": cells["UPC"],
        "table_price": cells["Price"],
        "description": article.cssselect("#description p")[0].text_content(),
    }


def _expected_fields(item: dict[str, Any]) -> dict[str, Any]:
    price = f"£{item['price']:.2f}"
    return {"title": item["title"], "price_text": price, "availability_text": availability_text(item),
            "tags": item["tags"], "upc": item["upc"], "table_price": price,
            "description": item["description"]}


def test_products_are_deterministic_and_well_formed() -> None:
    items = [product(pid) for pid in range(1, 2001)]
    assert items == [product(pid) for pid in range(1, 2001)]
    assert len({i["title"] for i in items}) == len(items)
    assert len({i["upc"] for i in items}) == len(items)
    for pid, item in enumerate(items, start=1):
        assert f"Vol. {pid}" in item["title"]
        assert 5.0 <= item["price"] <= 99.99 and round(item["price"], 2) == item["price"]
        assert item["currency"] == "£"
        assert re.fullmatch(r"[0-9a-f]{16}", item["upc"])
        assert 1 <= len(item["tags"]) <= 4 and len(set(item["tags"])) == len(item["tags"])
        assert set(item["tags"]) <= set(TAGS)
        assert (item["availability"], item["stock"] > 0) in {("In stock", True), ("Out of stock", False)}
        assert item["description"].endswith(".")
    with pytest.raises(ValueError):
        product(0)
    # Parsers must meet entities and UTF-8 even on a small site.
    titles = [item["title"] for item in items[:PRODUCTS]]
    assert any("&" in t for t in titles) and any("'" in t for t in titles)
    assert any(not t.isascii() for t in titles)


def test_products_are_the_same_in_another_process() -> None:
    code = ("import json; from pipelines.demo.site import product; "
            "print(json.dumps([product(p) for p in range(1, 200)]))")
    env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONHASHSEED="12345")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env,
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(out) == [product(p) for p in range(1, 200)]


def test_two_builds_give_identical_bytes_and_the_server_sends_them(server: str) -> None:
    first, second = build_site(PRODUCTS), build_site(PRODUCTS)
    paths = list(first.paths()) + ["/robots.txt", "/nope"]
    assert paths == list(second.paths())[:len(paths) - 2] + ["/robots.txt", "/nope"]
    for path in paths:
        assert first.get(path) == second.get(path), path
    for path in ["/", "/catalogue/page-2.html", "/catalogue/product-7.html", "/js/product.html"]:
        assert _get(server, path).body == first.get(path).body  # type: ignore[attr-defined]


def test_page_counts_match_the_formula() -> None:
    assert listing_pages(1) == 1 and listing_pages(20) == 1 and listing_pages(21) == 2
    assert listing_pages(PRODUCTS) == 3
    assert site_pages(PRODUCTS) == 1 + 3 + PRODUCTS + 1
    site = build_site(PRODUCTS)
    assert len(list(site.ok_paths())) == site_pages(PRODUCTS)
    assert len(set(site.paths())) == site_pages(PRODUCTS) + 2  # + private and discontinued


def test_a_large_site_is_built_lazily_and_answers_any_page() -> None:
    site = build_site(100_000)
    assert site.get("/catalogue/product-100000.html").status == 200
    assert site.get("/catalogue/page-5000.html").status == 200
    assert site.get("/catalogue/page-5001.html").status == 404
    assert site.get("/catalogue/product-100001.html").status == 404
    assert site_pages(100_000) == 1 + 5000 + 100_000 + 1


def test_home_links_to_the_catalogue_the_js_page_and_the_trap_pages(server: str) -> None:
    resp = _get(server, "/")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
    assert b'<meta charset="utf-8">' in resp.body  # type: ignore[attr-defined]
    links = set(lxml_html.fromstring(resp.body).xpath("//a/@href"))  # type: ignore[attr-defined]
    assert links == {"/catalogue/page-1.html", "/private/admin.html",
                     "/catalogue/discontinued.html", "/js/product.html"}


def test_it_serves_listing_pages_with_pagination(server: str) -> None:
    for n in (1, 2):
        doc = _doc(server, f"/catalogue/page-{n}.html")
        pods = doc.cssselect("article.product_pod")
        assert len(pods) == PER_PAGE
        for offset, pod in enumerate(pods):
            pid = (n - 1) * PER_PAGE + offset + 1
            item = product(pid)
            link = pod.cssselect("h3 a")[0]
            assert link.get("href") == f"product-{pid}.html"
            assert link.get("title") == item["title"] == link.text_content()
            assert pod.cssselect("p.price_color")[0].text_content() == f"£{item['price']:.2f}"
        assert doc.xpath('//li[@class="next"]/a/@href') == [f"page-{n + 1}.html"]
        assert doc.xpath('//li[@class="previous"]/a/@href') == ([] if n == 1 else [f"page-{n - 1}.html"])
        assert "/" in doc.xpath("//a/@href")


def test_the_last_listing_page_has_no_next_link(server: str) -> None:
    doc = _doc(server, "/catalogue/page-3.html")
    assert len(doc.cssselect("article.product_pod")) == PRODUCTS - 2 * PER_PAGE
    assert doc.xpath('//li[@class="next"]') == []
    assert doc.xpath('//li[@class="previous"]/a/@href') == ["page-2.html"]
    assert _get(server, "/catalogue/page-4.html").status == 404


def test_product_pages_show_the_expected_values(server: str) -> None:
    special = [pid for pid in range(1, PRODUCTS + 1)
               if any(c in product(pid)["title"] for c in "&'\"") or not product(pid)["title"].isascii()]
    out_of_stock = [pid for pid in range(1, PRODUCTS + 1) if product(pid)["stock"] == 0]
    assert special and out_of_stock
    for pid in sorted({1, 21, PRODUCTS, *special[:4], *out_of_stock[:2]}):
        resp = _get(server, f"/catalogue/product-{pid}.html")
        assert resp.status == 200
        raw = resp.body  # type: ignore[attr-defined]
        doc = lxml_html.fromstring(raw)
        assert _product_fields(doc) == _expected_fields(product(pid))
        assert doc.xpath("//nav//a/@href") == ["/", f"page-{(pid - 1) // PER_PAGE + 1}.html"]
        if "&" in product(pid)["title"]:
            assert b"&amp;" in raw  # escaped on the wire, not just tolerated by lxml


def test_the_js_page_shows_nothing_without_javascript() -> None:
    raw = build_site(PRODUCTS).get("/js/product.html").body
    doc = lxml_html.fromstring(raw)
    assert doc.xpath('//div[@id="app"]/node()') == []
    assert doc.cssselect("h1, p.price_color") == []
    assert JS_PRODUCT["title"].encode() not in raw and JS_PRODUCT["upc"].encode() not in raw
    data = json.loads(base64.b64decode(js_payload()))
    assert {k: data[k] for k in JS_PRODUCT} == JS_PRODUCT
    assert js_payload().encode() in raw


# A minimal DOM for node: enough for the page script, serialised back to HTML.
_NODE_DOM = r"""
const fs = require("fs");
const esc = s => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/"/g, "&quot;");
function Node(tag) { this.tag = tag; this.attrs = {}; this.children = []; this.textContent = ""; }
Node.prototype.setAttribute = function (k, v) { this.attrs[k] = v; };
Node.prototype.appendChild = function (c) { this.children.push(c); return c; };
Node.prototype.html = function () {
  const attrs = Object.entries(this.attrs).map(([k, v]) => ` ${k}="${esc(v)}"`).join("");
  return `<${this.tag}${attrs}>${esc(this.textContent)}${this.children.map(c => c.html()).join("")}</${this.tag}>`;
};
const app = new Node("div"); app.setAttribute("id", "app");
globalThis.document = { title: "", createElement: t => new Node(t), getElementById: id => id === "app" ? app : null };
eval(fs.readFileSync(0, "utf8"));
process.stdout.write(JSON.stringify({ html: app.html(), title: document.title }));
"""


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_js_page_script_renders_the_product_markup() -> None:
    raw = build_site(PRODUCTS).get("/js/product.html").body.decode()
    script = lxml_html.fromstring(raw).xpath("//script/text()")[0]
    out = subprocess.run(["node", "-e", _NODE_DOM], input=script, capture_output=True,
                         text=True, check=True, timeout=30).stdout
    rendered = json.loads(out)
    assert _product_fields(lxml_html.fromstring(rendered["html"])) == _expected_fields(JS_PRODUCT)
    assert rendered["title"].startswith(JS_PRODUCT["title"])


def test_robots_txt_disallows_the_private_area(server: str) -> None:
    resp = _get(server, "/robots.txt")
    assert resp.status == 200
    assert resp.getheader("Content-Type") == "text/plain; charset=utf-8"
    assert resp.body == b"User-agent: *\nDisallow: /private/\n"  # type: ignore[attr-defined]
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(resp.body.decode().splitlines())  # type: ignore[attr-defined]
    assert not robots.can_fetch("anybot", urljoin(server, "/private/admin.html"))
    assert robots.can_fetch("anybot", urljoin(server, "/catalogue/page-1.html"))
    assert _get(server, "/private/admin.html").status == 200


def test_unknown_and_discontinued_paths_answer_404_with_html(server: str) -> None:
    for path in ["/catalogue/discontinued.html", "/nope", "/catalogue/product-0.html",
                 "/catalogue/product-046.html", f"/catalogue/product-{PRODUCTS + 1}.html"]:
        resp = _get(server, path)
        assert resp.status == 404, path
        assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
        assert b"404" in resp.body  # type: ignore[attr-defined]


def test_a_robots_respecting_crawl_reaches_exactly_site_pages(server: str) -> None:
    robots = urllib.robotparser.RobotFileParser()
    robots.parse(_get(server, "/robots.txt").body.decode().splitlines())  # type: ignore[attr-defined]
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=10)
    seen, todo, ok = {"/"}, ["/"], set()
    while todo:
        path = todo.pop()
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        if resp.status != 200:
            continue
        ok.add(path)
        for href in lxml_html.fromstring(body).xpath("//a/@href"):
            target = urlsplit(urljoin(urljoin(server, path), href))
            assert target.netloc == urlsplit(server).netloc  # every link stays on this host
            if target.path not in seen and robots.can_fetch("anybot", target.geturl()):
                seen.add(target.path)
                todo.append(target.path)
    conn.close()
    assert len(ok) == site_pages(PRODUCTS)
    assert ok == set(build_site(PRODUCTS).ok_paths())


def test_keep_alive_serves_many_requests_on_one_connection(server: str) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", _port(server), timeout=10)
    conn.request("GET", "/")
    conn.getresponse().read()
    sock = conn.sock
    for path in ["/catalogue/page-1.html", "/nope", "/robots.txt", "/catalogue/product-3.html"] * 5:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        assert not resp.will_close
    assert conn.sock is sock  # http.client silently reconnects: same socket proves keep-alive
    conn.close()


def test_head_has_headers_but_no_body(server: str) -> None:
    path = "/catalogue/product-5.html"
    request = f"HEAD {path} HTTP/1.1\r\nHost: x\r\n\r\nGET {path} HTTP/1.1\r\nHost: x\r\n\r\n"
    (head, get), closed = _raw(server, request.encode(), ["HEAD", "GET"])
    assert head["status"] == get["status"] == 200
    assert head["body"] == b""
    assert int(head["headers"]["content-length"]) == len(get["body"]) > 0
    assert not closed


def test_a_pipelined_pair_of_requests_in_one_send_gets_two_responses_in_order(server: str) -> None:
    request = (b"GET /robots.txt HTTP/1.1\r\nHost: x\r\n\r\n"
               b"GET /catalogue/product-2.html HTTP/1.1\r\nHost: x\r\n\r\n")
    (first, second), closed = _raw(server, request, ["GET", "GET"])
    assert first["body"].startswith(b"User-agent")
    assert product(2)["title"] in second["body"].decode()
    assert not closed


def test_a_request_arriving_in_small_pieces_is_answered(server: str) -> None:
    request = b"\r\nGET /catalogue/page-2.html HTTP/1.1\r\nHost: x\r\nAccept: */*\r\n\r\n"
    (resp,), closed = _raw(server, request, ["GET"], chunks=len(request) // 3)
    assert resp["status"] == 200 and b"page-3.html" in resp["body"]
    assert not closed


@pytest.mark.parametrize("request_bytes", [
    b"GARBAGE\r\n\r\n",
    b"GARBAGE\n\n",
    b"GET /\r\n\r\n",
    b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n",
])
def test_a_malformed_request_gets_400_and_the_connection_closes(server: str, request_bytes: bytes) -> None:
    (resp,), closed = _raw(server, request_bytes, ["GET"])
    assert resp["status"] == 400
    assert resp["headers"]["connection"] == "close"
    assert closed


def test_unsupported_methods_get_405_and_keep_the_connection(server: str) -> None:
    request = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\nHost: x\r\n\r\n"
    (post, get), closed = _raw(server, request, ["POST", "GET"])
    assert post["status"] == 405 and post["headers"]["allow"] == "GET, HEAD"
    assert get["status"] == 200
    assert not closed


def test_connection_close_and_http_1_0_end_the_connection_unless_kept_alive(server: str) -> None:
    for request in [b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"GET / HTTP/1.0\r\n\r\n"]:
        (resp,), closed = _raw(server, request + b"GET /nope HTTP/1.1\r\n\r\n", ["GET"])
        assert resp["status"] == 200 and resp["headers"]["connection"] == "close"
        assert closed
    responses, closed = _raw(server, b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n" * 2, ["GET"] * 2)
    assert [r["headers"]["connection"] for r in responses] == ["keep-alive"] * 2
    assert not closed


def test_latency_delays_responses_but_keeps_pipelined_order() -> None:
    url, stop = serve_in_thread(PRODUCTS, latency_ms=50)
    try:
        paths = [f"/catalogue/product-{pid}.html" for pid in range(1, 9)]
        request = b"".join(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode() for p in paths)
        started = time.monotonic()
        responses, _ = _raw(url, request, ["GET"] * len(paths))
        assert time.monotonic() - started >= 0.04  # a lower bound only, never a speed claim
        for pid, resp in enumerate(responses, start=1):
            assert product(pid)["upc"] in resp["body"].decode()
    finally:
        stop()


def test_serve_in_thread_serves_and_stops() -> None:
    url, stop = serve_in_thread(3)
    assert url.startswith("http://127.0.0.1:") and url.endswith("/")
    assert _get(url, "/catalogue/product-3.html").status == 200
    stop()
    stop()  # idempotent
    with pytest.raises(OSError):
        _get(url, "/")


def test_sigterm_exits_zero_and_removes_the_pidfile(tmp_path: Path) -> None:
    pidfile = tmp_path / "demo.pid"
    proc, url = _start("--products", "5", "--pidfile", str(pidfile))
    assert pidfile.read_text().strip() == str(proc.pid)
    # An idle keep-alive connection must not hold up shutdown.
    conn = http.client.HTTPConnection("127.0.0.1", _port(url), timeout=10)
    conn.request("GET", "/")
    conn.getresponse().read()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    assert not pidfile.exists()
    assert "stopped after" in proc.stderr.read()
    conn.close()
