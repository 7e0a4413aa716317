"""The browser downloader: pages rendered by headless Chromium through Selenium.

Same contract as `pipelines.fetch.http.HttpDownloader`: ``fetch(request) ->
Response`` (thread-safe) or a `FetchError`, and ``close()``. The response body
is the rendered DOM (``page_source``) after the page loaded and, if
`BrowserSettings.wait_for` is set, after that CSS selector matched; status and
headers are those of the main document, read from Chromium's DevTools
(performance log).

Drivers are expensive (about 0.7 s to start here, against about 85 ms per page
once started), so at most ``pool_size`` of them are started, lazily, and
reused: a fetching thread borrows one and gives it back. A driver that timed
out, crashed or stopped answering is quit and replaced.

No orphaned chromium, ever:
* every process of a driver has its profile folder
  ``<run_dir>/profiles/<owner pid>-<owner start>-<n>/`` on its command line
  (chromedriver's ``--log-path``, chromium's ``--user-data-dir``, the crash
  handler's database via XDG_CONFIG_HOME), and a tracking file
  ``<run_dir>/<owner pid>-<n>.json`` names its chromedriver and chromium PIDs;
* ``quit()`` runs on close(), on failed starts, on broken drivers and at exit;
  after it we wait for chromium's children to exit and kill stragglers;
* workers killed with SIGKILL cannot quit anything: `pipelines.fetch.reaper`
  kills what they left, from cron and before this downloader's first start.

Selenium Manager never runs: both binary paths are always given.
"""

from __future__ import annotations

import atexit
import http
import itertools
import json
import logging
import os
import re
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import urllib3
from selenium import webdriver
from selenium.common.exceptions import (
    InvalidArgumentException,
    InvalidSelectorException,
    TimeoutException,
    WebDriverException,
)
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.options import BaseOptions
from selenium.webdriver.support.wait import WebDriverWait

from pipelines.exceptions import ConnectionFailed, FetchError, FetchTimeout
from pipelines.fetch import reaper
from pipelines.fetch.http import Request, Response

log = logging.getLogger("pipelines.fetch.browser")

CHROMIUM_FLAGS = (
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
    "--disable-background-networking", "--disable-component-update", "--no-first-run",
    "--disable-sync", "--disable-quic",
    # no calls home (they would go through the crawl's proxy): network time, safe-browsing pings
    "--disable-features=NetworkTimeServiceQuerying", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
)

HTML_UTF8 = "text/html; charset=utf-8"
# The body is the re-serialised DOM, not the bytes the server sent.
_DROP_HEADERS = {"content-type", "content-encoding", "transfer-encoding", "content-length"}
# Not forwarded with Network.setExtraHTTPHeaders: Cookie and User-Agent have
# their own CDP calls; the rest belong to the browser's own transport.
_NOT_FORWARDED = {"cookie", "user-agent", "host", "connection", "content-length", "accept-encoding"}

_NET_TIMEOUT = ("ERR_TIMED_OUT", "ERR_CONNECTION_TIMED_OUT")
_NET_ERROR = re.compile(r"net::ERR_[A-Z_]+")
_NET_CONNECTION = ("CONNECTION", "NAME_NOT_RESOLVED", "NAME_RESOLUTION", "ADDRESS_", "EMPTY_RESPONSE",
                   "PROXY", "TUNNEL", "SOCKET", "NETWORK_", "INTERNET_DISCONNECTED")


@dataclass
class BrowserSettings:
    pool_size: int = 2
    timeout: float = 30.0  # page-load timeout, s; also the budget of the wait below
    script_timeout: float = 10.0
    wait_for: str | None = None  # CSS selector to wait for after load; else document.readyState == "complete"
    user_agent: str | None = None  # default User-Agent; None keeps Chromium's own
    chromium_path: str = "/usr/bin/chromium"
    chromedriver_path: str = "/usr/bin/chromedriver"
    run_dir: Path = field(default_factory=lambda: Path("var/run/browsers"))
    max_pages_per_driver: int | None = None  # recycle a driver after this many pages (None: never)
    extra_flags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        if not isinstance(self.pool_size, int) or self.pool_size < 1:
            raise ValueError(f"pool_size must be a whole number >= 1, got {self.pool_size!r}")
        for name in ("timeout", "script_timeout"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be > 0 seconds, got {getattr(self, name)!r}")
        if self.max_pages_per_driver is not None and self.max_pages_per_driver < 1:
            raise ValueError(f"max_pages_per_driver must be >= 1 or None, got {self.max_pages_per_driver!r}")


# -- one driver ------------------------------------------------------------------

_numbers = itertools.count(1)
_live: set[_Driver] = set()  # every started, not yet stopped driver of this process
_live_lock = threading.Lock()


class _Driver:
    """One chromedriver + chromium, its profile folder and tracking file."""

    def __init__(self, name: str, proxy: str | None, profile: Path, tracking: Path) -> None:
        self.name = name
        self.proxy = proxy
        self.profile = profile
        self.tracking = tracking
        self.owner = os.getpid()
        self.wd: webdriver.Chrome | None = None
        self.service: Service | None = None
        self.chromedriver_pid: int | None = None
        self.startup = 0.0
        self.started_at = time.monotonic()
        self.pages = 0
        self.base_ua = ""
        self.ua = ""
        self.extra_headers: dict[str, str] = {}
        self.broken: str | None = None  # why it must not be reused
        self._stop_lock = threading.Lock()
        self.stopped = False

    def stop(self, why: str) -> None:
        """quit(), wait for chromium's children to exit, kill stragglers, remove files. Idempotent."""
        with self._stop_lock:
            if self.stopped:
                return
            self.stopped = True
        started = time.monotonic()
        if self.wd is not None:
            try:
                self.wd.command_executor.client_config.timeout = 10  # a hung driver must not hold us long
                self.wd.quit()
            except Exception as exc:  # noqa: BLE001 - whatever quit() says, the processes go below
                log.debug("quit of browser %s failed: %s", self.name, exc)
        elif self.service is not None:  # the session never came up: chromedriver alone
            try:
                self.service.stop()
            except Exception as exc:  # noqa: BLE001
                log.debug("stop of chromedriver %s failed: %s", self.name, exc)
        # After quit() chromium's children take a moment to exit: poll, then kill what is left.
        needle = str(self.profile) + os.sep
        deadline = time.monotonic() + 5.0
        left = reaper.matching(needle)
        while left and time.monotonic() < deadline:
            time.sleep(0.05)
            left = reaper.matching(needle)
        killed = reaper.kill_all(left, grace=1.0) if left else []
        reaper.remove_tree(self.profile)
        self.tracking.unlink(missing_ok=True)
        with _live_lock:
            _live.discard(self)
        log.info("browser %s stopped (%s) after %d pages in %.0fs; startup took %.2fs, stop %.2fs%s",
                 self.name, why, self.pages, time.monotonic() - self.started_at, self.startup,
                 time.monotonic() - started, f", killed {len(killed)} stragglers" if killed else "")


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(path.name + ".tmp")  # not *.json: the reaper never reads a torn file
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)


@atexit.register
def _quit_all_at_exit() -> None:
    """Last resort: quit the drivers nobody closed (not those of a parent process after fork)."""
    with _live_lock:
        drivers = [d for d in _live if d.owner == os.getpid()]
    for driver in drivers:
        driver.stop("interpreter exit")


# -- the downloader ------------------------------------------------------------------

class BrowserDownloader:
    """A thread-safe pool of at most `pool_size` reused Chromium drivers."""

    def __init__(self, settings: BrowserSettings | None = None) -> None:
        self.settings = settings or BrowserSettings()
        self.run_dir = self.settings.run_dir.resolve()
        self.profiles = self.run_dir / reaper.PROFILES
        self.drivers_started = 0
        self.drivers_stopped = 0
        self.pages = 0
        self._cond = threading.Condition()
        self._idle: list[_Driver] = []  # oldest first
        self._all: set[_Driver] = set()
        self._slots = 0  # drivers alive or starting
        self._closed = False
        self._reap_lock = threading.Lock()
        self._reaped = False

    def __enter__(self) -> BrowserDownloader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- public API

    def fetch(self, request: Request) -> Response:
        if not request.plain:  # WebDriver can only navigate (a link hook's POST, with render = "browser")
            raise FetchError(f"the browser renders GET requests without a body, not {request.method} with "
                             "a body; send this request with render='http'", "unsupported_method")
        proxy = proxy_key(request.meta.get("proxy"))
        driver = self._acquire(proxy)
        try:
            return self._render(driver, request)
        finally:
            self._release(driver)

    def close(self) -> None:
        """Quit every driver; waits for fetches in flight (bounded), then kills what remains."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for driver in idle:
            self._retire(driver, "closed")
        deadline = time.monotonic() + self.settings.timeout + self.settings.script_timeout + 10
        with self._cond:
            while self._slots and time.monotonic() < deadline:
                self._cond.wait(0.2)
            stuck = list(self._all)
        for driver in stuck:  # fetches still running after the deadline: pull the plug
            driver.stop("closed while busy")

    # -- the pool

    def _acquire(self, proxy: str | None) -> _Driver:
        evict: _Driver | None = None
        with self._cond:
            while True:
                if self._closed:
                    raise FetchError("the browser downloader is closed", "closed")
                for driver in self._idle:
                    if driver.proxy == proxy:
                        self._idle.remove(driver)
                        return driver
                if self._slots < self.settings.pool_size:
                    self._slots += 1
                    break
                if self._idle:  # full of idle drivers for other proxies: replace the oldest
                    evict = self._idle.pop(0)
                    self._all.discard(evict)
                    break  # its slot passes to the new driver
                self._cond.wait()
        try:
            if evict is not None:
                evict.stop("evicted for another proxy")
                with self._cond:
                    self.drivers_stopped += 1
            self._reap_once()
            driver = self._start(proxy)
        except BaseException:
            with self._cond:
                self._slots -= 1
                self._cond.notify_all()
            raise
        with self._cond:
            self._all.add(driver)
            self.drivers_started += 1
            closed = self._closed
        if closed:
            self._retire(driver, "closed")
            raise FetchError("the browser downloader is closed", "closed")
        return driver

    def _release(self, driver: _Driver) -> None:
        limit = self.settings.max_pages_per_driver
        if limit is not None and driver.pages >= limit and not driver.broken:
            driver.broken = f"recycled after {driver.pages} pages"
        with self._cond:
            keep = not driver.broken and not self._closed and not driver.stopped
            if keep:
                self._idle.append(driver)
                self._cond.notify_all()
                return
        self._retire(driver, driver.broken or "closed")

    def _retire(self, driver: _Driver, why: str) -> None:
        """Stop a driver that holds a slot, then free the slot (so the pool never exceeds its size)."""
        try:
            driver.stop(why)
        finally:
            with self._cond:
                if driver in self._all:
                    self._all.discard(driver)
                    self._slots -= 1
                self.drivers_stopped += 1
                self._cond.notify_all()

    def _reap_once(self) -> None:
        with self._reap_lock:
            if self._reaped:
                return
            self._reaped = True
            killed = reaper.reap(self.run_dir)
            if killed:
                log.warning("killed %d chromium/chromedriver processes left in %s by dead workers",
                            len(killed), self.run_dir)

    # -- starting a driver

    def _start(self, proxy: str | None) -> _Driver:
        s = self.settings
        owner = os.getpid()
        owner_start = reaper.start_time(owner) or 0
        n = next(_numbers)
        name = reaper.profile_name(owner, owner_start, n)
        driver = _Driver(name, proxy, self.profiles / name, self.run_dir / f"{owner}-{n}.json")
        driver.profile.mkdir(parents=True)
        info: dict[str, Any] = {
            "owner": owner, "owner_start": owner_start, "profile": str(driver.profile),
            "chromedriver": None, "chromedriver_start": None, "browsers": [],
            "proxy": proxy, "started": time.time(),
        }
        _write_json(driver.tracking, info)  # before launch: a kill during start is still reapable
        with _live_lock:
            _live.add(driver)
        started = time.monotonic()
        try:
            service = Service(
                s.chromedriver_path,
                service_args=[f"--log-path={driver.profile / 'chromedriver.log'}", "--log-level=SEVERE"],
                # the crash handler outlives chromium by a moment; its --database then names our profile
                env={**os.environ, "XDG_CONFIG_HOME": str(driver.profile / "xdg")},
            )
            driver.service = service
            driver.wd = webdriver.Chrome(options=self._options(driver, proxy), service=service)
            if service.process is not None:
                driver.chromedriver_pid = service.process.pid
            wd = driver.wd
            # a hung chromedriver must not block a thread for Selenium's default 120 s
            wd.command_executor.client_config.timeout = s.timeout + s.script_timeout + 10
            wd.execute_cdp_cmd("Network.enable", {})
            driver.base_ua = s.user_agent or wd.execute_cdp_cmd("Browser.getVersion", {})["userAgent"]
            driver.ua = driver.base_ua
            # After the start-up commands: chromedriver bounds them by the page-load timeout too,
            # and a renderer starting on a busy host can take longer than a short page timeout.
            wd.set_page_load_timeout(s.timeout)
            wd.set_script_timeout(s.script_timeout)
        except BaseException as exc:
            driver.stop("failed to start")
            if not isinstance(exc, Exception):
                raise
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise FetchError(f"cannot start chromium ({type(exc).__name__}: {first})",
                             "browser_start_failed") from exc
        driver.startup = time.monotonic() - started
        procs = reaper.processes()
        pid = driver.chromedriver_pid
        browsers = set(reaper.matching(str(driver.profile) + os.sep, procs))
        if pid is not None:
            browsers |= reaper.descendants([pid], procs)
            info.update(chromedriver=pid, chromedriver_start=procs[pid].start if pid in procs else None)
        browsers.discard(pid)
        info["browsers"] = sorted(browsers)
        _write_json(driver.tracking, info)
        log.info("browser %s started in %.2fs (chromedriver pid %s, %d chromium processes%s)",
                 name, driver.startup, pid, len(browsers), f", proxy {proxy}" if proxy else "")
        return driver

    def _options(self, driver: _Driver, proxy: str | None) -> webdriver.ChromeOptions:
        s = self.settings
        options = webdriver.ChromeOptions()
        options.binary_location = s.chromium_path
        for flag in (*CHROMIUM_FLAGS, *s.extra_flags):
            options.add_argument(flag)
        options.add_argument(f"--user-data-dir={driver.profile / 'chrome'}")
        if s.user_agent:
            options.add_argument(f"--user-agent={s.user_agent}")
        if proxy:
            # Chromium takes no proxy credentials on its command line (user:pass@ is
            # ignored there), so credentialed proxies are refused in proxy_key().
            options.add_argument(f"--proxy-server={proxy}")
            options.add_argument("--proxy-bypass-list=<-loopback>")  # proxy everything, localhost too
        else:
            options.add_argument("--no-proxy-server")  # like HttpDownloader: no proxy from the environment
        options.page_load_strategy = "normal"
        options.unhandled_prompt_behavior = "dismiss"  # alert() must not break page_source
        options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
        options.add_experimental_option("perfLoggingPrefs", {"enableNetwork": True, "enablePage": False})
        # Selenium <-> chromedriver stays local whatever HTTP_PROXY says (the base-class method:
        # ArgOptions' override only adds a DeprecationWarning pointing to a ClientConfig that
        # webdriver.Chrome does not accept)
        BaseOptions.ignore_local_proxy_environment_variables(options)
        return options

    # -- one page

    def _render(self, driver: _Driver, request: Request) -> Response:
        s = self.settings
        wd = driver.wd
        assert wd is not None
        started = time.monotonic()
        driver.pages += 1
        try:
            self._prepare(driver, request)
            wd.get_log("performance")  # drop the events of earlier pages
            try:
                wd.get(request.url)
            except TimeoutException:
                driver.broken = "page load timed out"  # may be hung: never reuse it
                raise FetchTimeout(f"page not loaded within {s.timeout:g}s") from None
            status, reason, headers, final_url = _main_document(wd.get_log("performance"), request.url)
            if status in (204, 205):  # nothing to render; the DOM would be the previous page's
                body = b""
            else:
                self._wait(wd, started)
                body = wd.page_source.encode("utf-8")
        except FetchError:
            raise
        except InvalidSelectorException as exc:
            raise FetchError(f"wait_for {s.wait_for!r} is not a valid CSS selector: {exc.msg}",
                             "invalid_wait_for") from None
        except InvalidArgumentException as exc:
            raise FetchError(f"the browser refused the URL {request.url!r}: {exc.msg}", "invalid_url") from None
        except TimeoutException as exc:  # script timeout
            driver.broken = "script timed out"
            raise FetchTimeout(f"browser script timed out: {exc.msg}") from None
        except urllib3.exceptions.ReadTimeoutError:
            driver.broken = "chromedriver stopped answering"
            raise FetchTimeout("chromedriver did not answer in time") from None
        except WebDriverException as exc:
            net = _NET_ERROR.search(exc.msg or "")
            if net:  # chromedriver reports some navigation errors itself; the driver is fine
                raise _net_error(net.group(), request.url) from None
            driver.broken = f"crashed: {type(exc).__name__}"
            err = FetchError(f"browser failed: {type(exc).__name__}: {(exc.msg or '').strip()[:300]}",
                             "browser_crashed")
            err.transient = True  # a fresh driver will try again
            raise err from None
        except (urllib3.exceptions.HTTPError, OSError) as exc:  # chromedriver is gone
            driver.broken = f"crashed: {type(exc).__name__}"
            err = FetchError(f"chromedriver unreachable: {type(exc).__name__}: {str(exc).strip()[:300]}",
                             "browser_crashed")
            err.transient = True  # a fresh driver will try again
            raise err from None
        kept = [(k, v) for k, v in headers if k.lower() not in _DROP_HEADERS]
        kept += [("Content-Type", HTML_UTF8), ("Content-Length", str(len(body)))]
        with self._cond:
            self.pages += 1
        return Response(final_url, status, reason, kept, body, request, time.monotonic() - started)

    def _prepare(self, driver: _Driver, request: Request) -> None:
        """Apply the request's User-Agent, headers and cookies to the driver (only what changed)."""
        wd = driver.wd
        assert wd is not None
        ua = driver.base_ua
        cookie = None
        extra: dict[str, str] = {}
        for key, value in request.headers.items():
            lkey = key.lower()
            if lkey == "user-agent":
                ua = value
            elif lkey == "cookie":
                cookie = value
            elif lkey not in _NOT_FORWARDED:
                extra[key] = value
        if ua != driver.ua:
            wd.execute_cdp_cmd("Network.setUserAgentOverride", {"userAgent": ua})
            driver.ua = ua
        if extra != driver.extra_headers:
            wd.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": extra})
            driver.extra_headers = extra
        if cookie:
            cookies = []
            for pair in cookie.split(";"):
                name, eq, value = pair.strip().partition("=")
                if eq and name:
                    cookies.append({"name": name.strip(), "value": value.strip(), "url": request.url})
            if cookies:
                wd.execute_cdp_cmd("Network.setCookies", {"cookies": cookies})

    def _wait(self, wd: webdriver.Chrome, started: float) -> None:
        s = self.settings
        budget = max(1.0, s.timeout - (time.monotonic() - started))
        if s.wait_for:
            def ready(d: Any) -> bool:
                return bool(d.find_elements(By.CSS_SELECTOR, s.wait_for))
            what = f"{s.wait_for!r} to appear"
        else:
            def ready(d: Any) -> bool:
                return d.execute_script("return document.readyState") == "complete"
            what = "document.readyState == 'complete'"
        try:
            WebDriverWait(wd, budget, poll_frequency=0.05).until(ready)
        except TimeoutException:
            raise FetchTimeout(f"waited {budget:.1f}s for {what}") from None


def proxy_key(proxy: str | None) -> str | None:
    """The --proxy-server value for a request's meta["proxy"]; drivers are pooled by it.

    Credentials are refused: Chromium cannot take them on its command line, and
    an auth extension or CDP Fetch interception would be a different design.
    The error message never contains them.
    """
    if not proxy:
        return None
    parts = urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    host = parts.hostname
    if parts.username or parts.password:
        where = f"{host}:{port}" if host else "the proxy"
        raise FetchError(f"proxy {where} needs credentials, which Chromium cannot take on its command line; "
                         "use an IP-allowlisted proxy or a local forwarding proxy", "proxy_auth_unsupported")
    if not host or scheme not in ("http", "https", "socks4", "socks5"):
        raise FetchError(f"unsupported proxy {scheme}://{host or '?'} for the browser", "bad_proxy")
    port = port or {"http": 80, "https": 443}.get(scheme, 1080)
    hostport = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return hostport if scheme == "http" else f"{scheme}://{hostport}"


def _main_document(entries: list[dict[str, Any]], url: str) -> tuple[int, str, list[tuple[str, str]], str]:
    """(status, reason, headers, final URL) of the main document from the performance log.

    Raises ConnectionFailed / FetchTimeout / FetchError for a navigation error
    (Chromium shows its own error page then, and Selenium's get() succeeds).
    Falls back to 200 when the log has no answer for the document.
    """
    events: list[tuple[str, dict[str, Any]]] = []
    main_frame = None
    documents: list[str] = []
    for entry in entries:
        message = entry.get("message", "")
        if '"Network.' not in message:
            continue
        msg = json.loads(message)["message"]
        method, params = msg.get("method", ""), msg.get("params", {})
        events.append((method, params))
        if method == "Network.requestWillBeSent" and params.get("type") == "Document":
            if main_frame is None:
                main_frame = params.get("frameId")
            doc_url = params.get("request", {}).get("url", "")
            if params.get("frameId") == main_frame and doc_url.startswith(("http:", "https:")):
                if params["requestId"] not in documents:
                    documents.append(params["requestId"])
    if not documents:
        return 200, "OK", [], url
    doc = documents[-1]  # the last main-frame document (a script may have navigated on)
    response = extra = failed = None
    for method, params in events:
        if params.get("requestId") != doc:
            continue
        if method == "Network.responseReceived":
            response = params.get("response")
        elif method == "Network.responseReceivedExtraInfo":
            extra = params
        elif method == "Network.loadingFailed":
            failed = params
    if failed is not None and not failed.get("canceled") and response is None:
        raise _net_error(failed.get("errorText", "net::ERR_FAILED"), url)
    if response is None:
        if failed is not None:
            raise FetchError(f"navigation to {url} was cancelled", "aborted")
        return 200, "OK", [], url
    status = int(response.get("status", 200))
    reason = response.get("statusText") or _phrase(status)
    headers = _header_list(response.get("headers", {}))
    if extra is not None and not any(k.lower() == "set-cookie" for k, _ in headers):
        # Set-Cookie may only be in the raw headers of the ExtraInfo event
        headers += [(k, v) for k, v in _header_list(extra.get("headers", {})) if k.lower() == "set-cookie"]
    return status, reason, headers, response.get("url") or url


def _net_error(error: str, url: str) -> FetchError:
    """The FetchError for a Chromium net error code such as net::ERR_CONNECTION_REFUSED."""
    message = f"{error} loading {url}"
    if any(code in error for code in _NET_TIMEOUT):
        return FetchTimeout(message)
    if any(code in error for code in _NET_CONNECTION):
        return ConnectionFailed(message)
    return FetchError(message, "aborted" if "ERR_ABORTED" in error else "net_error")


def _header_list(headers: dict[str, str]) -> list[tuple[str, str]]:
    """CDP joins repeated headers with newlines; split them back into pairs."""
    return [(k, line) for k, v in headers.items() for line in str(v).split("\n")]


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""
