"""The browser downloader against real headless Chromium: rendering, pooling,
timeouts, request headers, and no orphaned chromium/chromedriver processes.

Every test has its own run_dir under tmp_path; an autouse fixture fails the
test if any process with that path on its command line outlives it.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import parsel
import pytest

from pipelines.demo.site import JS_PRODUCT, product
from pipelines.exceptions import ConnectionFailed, FetchError, FetchTimeout
from pipelines.fetch.browser import BrowserDownloader, BrowserSettings
from pipelines.fetch.crawler import RenderRouter
from pipelines.fetch.http import HttpDownloader, Request
from pipelines.fetch.reaper import reap
from pipelines.parse import Extractor, PageError
from pipelines.spec import load_spec
from tests.conftest import ROOT, free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                       reason=f"needs Debian's chromium and chromium-driver ({CHROMIUM}, {CHROMEDRIVER})"),
]


# -- processes -------------------------------------------------------------------

def browser_processes(needle: str | Path) -> tuple[list[int], list[int]]:
    """(chromium PIDs, chromedriver PIDs) of live processes with `needle` on their command line."""
    needle = str(needle)
    chromium, chromedriver = [], []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode(errors="replace")
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if stat[stat.rfind(")") + 2:].startswith("Z"):
            continue  # a zombie has exited; only its parent's wait() is missing
        cmdline = b" ".join(argv).decode(errors="replace")
        if needle in cmdline:
            (chromedriver if argv[0].endswith(b"chromedriver") else chromium).append(int(entry))
    return chromium, chromedriver


def wait_no_processes(needle: str | Path, timeout: float = 10.0) -> tuple[list[int], list[int]]:
    """Poll until no process has `needle` on its command line; the leftovers otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        left = browser_processes(needle)
        if not any(left) or time.monotonic() > deadline:
            return left
        time.sleep(0.1)


def describe(left: tuple[list[int], list[int]]) -> str:
    return f"{len(left[0])} chromium processes {left[0]}, {len(left[1])} chromedriver processes {left[1]}"


@pytest.fixture(autouse=True)
def no_leftovers(tmp_path: Path) -> Iterator[None]:
    yield
    left = wait_no_processes(tmp_path)
    for pid in left[0] + left[1]:  # do not leak into the next test, then fail this one
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    assert not any(left), f"left behind: {describe(left)}"


def settings(tmp_path: Path, **kw: object) -> BrowserSettings:
    return BrowserSettings(run_dir=tmp_path / "run", **kw)  # type: ignore[arg-type]


# -- small local servers -----------------------------------------------------------

class Echo(http.server.ThreadingHTTPServer):
    """Answers every GET with a page; records each request's path and headers."""

    daemon_threads = True

    def __init__(self) -> None:
        self.seen: list[tuple[str, dict[str, str]]] = []
        super().__init__(("127.0.0.1", 0), EchoHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def headers_of(self, path: str) -> list[dict[str, str]]:
        return [h for p, h in self.seen if p == path]


class EchoHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.seen.append((self.path, dict(self.headers)))  # type: ignore[attr-defined]
        body = (b"<!DOCTYPE html><html><head><title>echo</title></head><body><h1>echo</h1>"
                b"<script>document.body.setAttribute('data-ua', navigator.userAgent)</script></body></html>")
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=latin-1")
        self.send_header("Set-Cookie", "visited=yes; Path=/")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class ForwardProxy(http.server.ThreadingHTTPServer):
    """A plain-HTTP forward proxy (absolute-URI GETs only) that records what it forwarded."""

    daemon_threads = True

    def __init__(self) -> None:
        self.forwarded: list[str] = []
        super().__init__(("127.0.0.1", 0), ProxyHandler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.server.forwarded.append(self.path)  # type: ignore[attr-defined]
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        try:
            with opener.open(self.path, timeout=10) as upstream:
                status, body, ctype = upstream.status, upstream.read(), upstream.headers.get("Content-Type")
        except urllib.error.HTTPError as exc:
            status, body, ctype = exc.code, exc.read(), exc.headers.get("Content-Type")
        except OSError as exc:
            status, body, ctype = 502, str(exc).encode(), "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", ctype or "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Via", "1.1 test-proxy")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def echo() -> Iterator[Echo]:
    server = Echo()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """A server that accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/never.html"
    listener.close()
    for conn in held:
        conn.close()


# -- rendering ----------------------------------------------------------------------

def test_the_js_page_fields_are_extracted_from_the_rendered_dom_and_not_over_http(demo_site, tmp_path):
    spec_file = tmp_path / "demo.toml"
    spec_file.write_text((ROOT / "pipelines/crawls/demo.toml").read_text()
                         .replace("http://127.0.0.1:${DEMO_SITE_PORT:-8090}/", demo_site.url))
    spec = load_spec(str(spec_file), spec_dirs=[])
    extractor = Extractor(spec)
    url = demo_site.url + "js/product.html"

    with BrowserDownloader(settings(tmp_path)) as browser:
        response = browser.fetch(Request(url))
    assert (response.status, response.url) == (200, url)
    assert response.header("Content-Type") == "text/html; charset=utf-8"
    item = extractor.extract(response.url, response.body, response.charset or "utf-8")
    assert set(item) == {f.name for f in spec.fields} == set(JS_PRODUCT) - {"currency"}
    assert item == {name: JS_PRODUCT[name] for name in item}

    plain = HttpDownloader(timeout=10, max_bytes=10_000_000, user_agent="crawlops-test")
    try:
        raw = plain.fetch(Request(url))
    finally:
        plain.close()
    assert raw.status == 200
    with pytest.raises(PageError, match="title"):
        extractor.extract(raw.url, raw.body, "utf-8")


def test_status_and_final_url_come_from_the_main_document(demo_site, tmp_path):
    with BrowserDownloader(settings(tmp_path)) as browser:
        missing = browser.fetch(Request(demo_site.url + "catalogue/product-999999.html"))
    assert missing.status == 404
    assert b"404 Not Found" in missing.body


# -- the pool -------------------------------------------------------------------------

def test_200_pages_from_4_threads_start_at_most_2_browsers(demo_site, tmp_path):
    run_dir = tmp_path / "run"
    chromedrivers: set[int] = set()
    done = threading.Event()

    def watch() -> None:  # every chromedriver PID that ever appears in a tracking file
        while not done.is_set():
            for path in run_dir.glob("*.json"):
                try:
                    pid = json.loads(path.read_text()).get("chromedriver")
                except (OSError, ValueError):
                    continue
                if pid:
                    chromedrivers.add(pid)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    pids = list(range(1, 201))
    browser = BrowserDownloader(settings(tmp_path, pool_size=2))
    try:
        with ThreadPoolExecutor(4) as pool:
            responses = list(pool.map(browser.fetch, [Request(f"{demo_site.url}catalogue/product-{pid}.html")
                                                      for pid in pids]))
        started = browser.drivers_started
    finally:
        browser.close()
        done.set()
        watcher.join()

    assert 1 <= started <= 2, f"{started} drivers started for a pool of 2"
    assert 1 <= len(chromedrivers) <= 2, f"chromedriver PIDs seen in tracking files: {sorted(chromedrivers)}"
    assert [r.status for r in responses] == [200] * 200
    titles = [parsel.Selector(text=r.body.decode()).css("h1::text").get() for r in responses]
    assert titles == [product(pid)["title"] for pid in pids]
    assert browser.pages == 200


def test_close_leaves_no_process_and_no_file(demo_site, tmp_path):
    run_dir = tmp_path / "run"
    browser = BrowserDownloader(settings(tmp_path, pool_size=2))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(browser.fetch, [Request(f"{demo_site.url}catalogue/product-{n}.html") for n in range(1, 7)]))
    assert any(browser_processes(run_dir)), "the test needs running browsers to begin with"
    browser.close()
    left = wait_no_processes(run_dir)
    assert not any(left), f"after close(): {describe(left)}"
    assert list(run_dir.glob("*.json")) == []
    assert list((run_dir / "profiles").iterdir()) == []
    with pytest.raises(FetchError) as closed:
        browser.fetch(Request(demo_site.url))
    assert closed.value.reason == "closed"


def test_a_closed_render_router_starts_no_browser_for_a_late_request(demo_site, tmp_path):
    """A fetch thread still running when an aborted crawl closes its downloader must not start Chromium then."""
    started = []

    def make_browser() -> BrowserDownloader:
        started.append(BrowserDownloader(settings(tmp_path)))
        return started[-1]

    router = RenderRouter(HttpDownloader(timeout=5, max_bytes=1_000_000, user_agent="t"), "http", make_browser)
    router.close()
    try:
        with pytest.raises(FetchError) as closed:
            router.fetch(Request(demo_site.url, render="browser"))
    finally:
        for browser in started:  # only when the router made one after all: not a leftover for the next test
            browser.close()
    assert closed.value.reason == "closed"
    assert started == []


def test_on_a_browser_crawl_a_post_fails_as_unsupported_method_unless_it_asks_for_http(demo_site, tmp_path):
    http = HttpDownloader(timeout=5, max_bytes=1_000_000, user_agent="t")
    router = RenderRouter(BrowserDownloader(settings(tmp_path)), "browser", lambda: http)
    try:
        with pytest.raises(FetchError) as refused:
            router.fetch(Request(demo_site.url, method="POST", body=b"q=tea"))
        sent = router.fetch(Request(demo_site.url, method="POST", body=b"q=tea", render="http"))
    finally:
        router.close()
    assert refused.value.reason == "unsupported_method"
    assert sent.status == 405  # the demo site's answer to a POST: it went over HTTP


def test_a_crashed_browser_is_replaced(demo_site, tmp_path):
    run_dir = tmp_path / "run"
    page = Request(demo_site.url + "catalogue/product-3.html")
    with BrowserDownloader(settings(tmp_path, pool_size=1)) as browser:
        assert browser.fetch(page).status == 200
        (tracking,) = run_dir.glob("*.json")
        chromedriver = json.loads(tracking.read_text())["chromedriver"]
        for pid in browser_processes(run_dir)[0]:
            if Path(f"/proc/{pid}/stat").read_text().split(") ")[1].split()[1] == str(chromedriver):
                os.kill(pid, signal.SIGKILL)  # the chromium browser process, child of chromedriver
        with pytest.raises(FetchError) as crashed:
            browser.fetch(page)
        assert crashed.value.reason == "browser_crashed" and crashed.value.transient
        assert browser.fetch(page).status == 200
        assert browser.drivers_started == 2


# -- dead workers ------------------------------------------------------------------------

WORKER = """
import sys, threading, time
from pathlib import Path
from pipelines.fetch.browser import BrowserDownloader, BrowserSettings
from pipelines.fetch.crawler import RenderRouter
from pipelines.fetch.http import Request

browser = BrowserDownloader(BrowserSettings(pool_size=2, run_dir=Path(sys.argv[1])))

def crawl(n):
    i = n
    while True:
        i += 2
        try:
            browser.fetch(Request(f"{sys.argv[2]}catalogue/product-{i % 400 + 1}.html"))
        except Exception as exc:
            print("fetch failed:", exc, flush=True)

for n in range(2):
    threading.Thread(target=crawl, args=(n,), daemon=True).start()
time.sleep(600)
"""


def start_worker_and_kill_it(run_dir: Path, site_url: str) -> int:
    """A crawl worker with 2 busy drivers, killed with SIGKILL; returns its (dead) PID."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(run_dir), site_url], cwd=ROOT, env=env)
    try:
        deadline = time.monotonic() + 30
        while True:
            up = []
            for path in run_dir.glob(f"{worker.pid}-*.json"):
                try:
                    up.append(json.loads(path.read_text()).get("chromedriver"))
                except (OSError, ValueError):
                    pass
            if len([pid for pid in up if pid]) == 2:
                break
            assert worker.poll() is None, f"worker exited with {worker.returncode}"
            assert time.monotonic() < deadline, "the worker's 2 drivers did not come up within 30 s"
            time.sleep(0.1)
        time.sleep(0.5)  # let them fetch a few pages
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait()
    chromium, chromedriver = browser_processes(run_dir / "profiles" / f"{worker.pid}-")
    assert chromium and len(chromedriver) == 2, f"expected orphans after SIGKILL: {describe((chromium, chromedriver))}"
    return worker.pid


def test_reap_kills_what_a_sigkilled_worker_left_and_nothing_else(demo_site, tmp_path):
    run_dir = tmp_path / "run"
    page = Request(demo_site.url + "catalogue/product-5.html")
    # a live owner on the same run_dir, and a browser on another run_dir: both must survive
    live = BrowserDownloader(settings(tmp_path))
    other = BrowserDownloader(BrowserSettings(run_dir=tmp_path / "other"))
    try:
        live.fetch(page)
        other.fetch(page)
        live_profiles = run_dir / "profiles" / f"{os.getpid()}-"
        before = (browser_processes(live_profiles), browser_processes(tmp_path / "other"))

        dead = start_worker_and_kill_it(run_dir, demo_site.url)
        killed = reap(run_dir)
        assert killed
        left = wait_no_processes(run_dir / "profiles" / f"{dead}-")
        assert not any(left), f"after reap(): {describe(left)}"
        assert list(run_dir.glob(f"{dead}-*.json")) == []
        assert [p.name for p in (run_dir / "profiles").iterdir() if p.name.startswith(f"{dead}-")] == []

        assert (browser_processes(live_profiles), browser_processes(tmp_path / "other")) == before
        assert live.fetch(page).status == 200 and other.fetch(page).status == 200
    finally:
        live.close()
        other.close()
    assert not any(wait_no_processes(tmp_path))
    assert list(run_dir.glob("*.json")) == []
    assert list((run_dir / "profiles").iterdir()) == []


def test_the_reaper_command_line_removes_stale_profiles(tmp_path):
    run_dir = tmp_path / "run"
    stale = run_dir / "profiles" / "999999999-1-1"  # a PID no process has
    (stale / "chrome").mkdir(parents=True)
    (run_dir / "999999999-1.json").write_text(json.dumps({"owner": 999999999, "owner_start": 1,
                                                           "profile": str(stale), "chromedriver": None}))
    out = subprocess.run([sys.executable, "-m", "pipelines.fetch.reaper", "--run-dir", str(run_dir)],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "nothing to reap" in out.stdout
    assert not stale.exists() and not (run_dir / "999999999-1.json").exists()


def test_a_browser_that_cannot_start_leaves_nothing_behind(tmp_path):
    run_dir = tmp_path / "run"
    with BrowserDownloader(settings(tmp_path, chromium_path=str(tmp_path / "no-such-chromium"))) as browser:
        with pytest.raises(FetchError) as failed:
            browser.fetch(Request("http://127.0.0.1:9/"))
        assert failed.value.reason == "browser_start_failed"
        assert not any(wait_no_processes(run_dir))
        assert list(run_dir.glob("*.json")) == [] and list((run_dir / "profiles").iterdir()) == []


def test_the_next_downloader_on_the_run_dir_reaps_the_leftovers_itself(demo_site, tmp_path):
    run_dir = tmp_path / "run"
    dead = start_worker_and_kill_it(run_dir, demo_site.url)
    with BrowserDownloader(settings(tmp_path)) as browser:
        assert browser.fetch(Request(demo_site.url + "catalogue/product-1.html")).status == 200
        left = wait_no_processes(run_dir / "profiles" / f"{dead}-")
        assert not any(left), f"processes of the dead worker {dead}: {describe(left)}"
        assert not list(run_dir.glob(f"{dead}-*.json"))
        assert browser_processes(run_dir) != ([], []), "the new downloader's own browser must be untouched"


# -- timeouts and errors ------------------------------------------------------------------

def test_a_page_that_never_finishes_raises_fetch_timeout(demo_site, hanging_url, tmp_path):
    with BrowserDownloader(settings(tmp_path, timeout=3)) as browser:
        with pytest.raises(FetchTimeout):
            browser.fetch(Request(hanging_url))
        # the hung driver was replaced: the next page works
        assert browser.fetch(Request(demo_site.url + "catalogue/product-2.html")).status == 200


def test_a_refused_port_raises_connection_failed(tmp_path):
    with BrowserDownloader(settings(tmp_path)) as browser:
        with pytest.raises(ConnectionFailed, match="ERR_CONNECTION_REFUSED"):
            browser.fetch(Request(f"http://127.0.0.1:{free_port()}/"))


def test_wait_for_a_selector_that_never_appears_raises_fetch_timeout(demo_site, tmp_path):
    with BrowserDownloader(settings(tmp_path, timeout=2, wait_for="#never-there")) as browser:
        with pytest.raises(FetchTimeout, match="never-there"):
            browser.fetch(Request(demo_site.url + "js/product.html"))


# -- what middlewares put on the request ---------------------------------------------------------

def test_user_agent_extra_headers_and_cookies_reach_the_server(echo, tmp_path):
    with BrowserDownloader(settings(tmp_path, user_agent="crawlops-default/1.0")) as browser:
        response = browser.fetch(Request(echo.url + "/first", headers={
            "User-Agent": "crawlops-test/2.0 (+https://example.invalid/bot)",
            "X-Crawl-Run": "tick-42",
            "Accept-Language": "fr-FR",
            "Cookie": "session=s3cr3t; theme=dark",
        }))
        second = browser.fetch(Request(echo.url + "/second"))

    (first,) = echo.headers_of("/first")
    assert first["User-Agent"] == "crawlops-test/2.0 (+https://example.invalid/bot)"
    assert first["X-Crawl-Run"] == "tick-42"
    assert first["Accept-Language"] == "fr-FR"
    assert {"session=s3cr3t", "theme=dark"} <= set(first["Cookie"].split("; "))
    assert b'data-ua="crawlops-test/2.0 (+https://example.invalid/bot)"' in response.body  # JS sees it too
    assert response.header("Set-Cookie") == "visited=yes; Path=/"
    assert response.header("Content-Type") == "text/html; charset=utf-8"

    (plain,) = echo.headers_of("/second")  # nothing on the request: back to the defaults
    assert plain["User-Agent"] == "crawlops-default/1.0"
    assert "X-Crawl-Run" not in plain
    assert second.status == 200


def test_requests_go_through_their_proxy_on_a_driver_keyed_by_it(echo, tmp_path):
    proxy = ForwardProxy()
    try:
        with BrowserDownloader(settings(tmp_path, pool_size=1)) as browser:
            direct = browser.fetch(Request(echo.url + "/direct"))
            proxied = browser.fetch(Request(echo.url + "/proxied",
                                            meta={"proxy": f"http://127.0.0.1:{proxy.server_address[1]}"}))
            assert (browser.drivers_started, browser.drivers_stopped) == (2, 1)  # pool of 1: idle one evicted
    finally:
        proxy.shutdown()
        proxy.server_close()
    assert direct.header("Via") is None
    assert proxied.header("Via") == "1.1 test-proxy"
    assert echo.url + "/proxied" in proxy.forwarded
    assert [url for url in proxy.forwarded if not url.startswith(echo.url)] == []  # no calls home


def test_a_proxy_with_credentials_is_refused_without_leaking_them(tmp_path):
    with BrowserDownloader(settings(tmp_path)) as browser:
        with pytest.raises(FetchError) as refused:
            browser.fetch(Request("http://127.0.0.1:9/", meta={"proxy": "http://bob:hunter2@127.0.0.1:3128"}))
        assert browser.drivers_started == 0
    assert refused.value.reason == "proxy_auth_unsupported"
    assert "hunter2" not in str(refused.value) and "bob" not in str(refused.value)
