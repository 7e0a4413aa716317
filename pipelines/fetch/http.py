"""The HTTP downloader: one request in, one response (or a FetchError) out.

Built on urllib3 directly: with keep-alive pools it costs about 0.18 ms of CPU
per request here against 0.59 ms for requests.Session, and the crawl is CPU
bound (see docs/architecture.md). Redirects, retries, cookies and robots are
the crawler's business, not the transport's.

`timeout` is a deadline for the whole response (connect, status line,
headers and body), kept by `pipelines.fetch.deadline`: a server that drips
bytes is cut off at the deadline, whatever its rate. It is also urllib3's
connect and read timeout, which end a plain silence at the same time.

Reads from the crawl spec's [fetch] table: timeout, max_bytes, user_agent,
headers.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    DecodeError,
    HTTPError,
    NewConnectionError,
    ProtocolError,
    ProxyError,
    ReadTimeoutError,
)

from pipelines.exceptions import ConnectionFailed, FetchError, FetchTimeout, ResponseTooLarge
from pipelines.fetch.deadline import POOL_CLASSES, Watchdog

CHUNK = 64 * 1024


@dataclass
class Request:
    """One URL to fetch. Middlewares may change headers and meta, or return a new Request.

    A link hook (`[links] hook`) yields these too: `Request(url, method="POST",
    body=b"page=2", headers={...}, render="browser")`; a relative URL is
    resolved against the page. `render` None is the spec's render mode.

    meta keys read by the fetch layer: "proxy" (proxy URL), "max_bytes",
    "not_before" (monotonic time before which a retry must not start),
    "redirect_urls" (the chain so far), "retry_reasons", "source" ("sitemap"
    or "robots": a response whose links are a sitemap's or robots.txt's).
    """

    url: str
    depth: int = 0
    referer: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    attempt: int = 1
    redirects: int = 0
    meta: dict[str, Any] = field(default_factory=dict)
    method: str = "GET"
    body: bytes | None = None
    render: str | None = None

    @property
    def plain(self) -> bool:
        """A GET without a body: what an <a href> makes (its URL alone is its identity)."""
        return self.method == "GET" and not self.body

    def replace(self, **changes: Any) -> Request:
        """A copy with `changes`; headers and meta are copied, not shared."""
        values = {"url": self.url, "depth": self.depth, "referer": self.referer, "headers": dict(self.headers),
                  "attempt": self.attempt, "redirects": self.redirects, "meta": dict(self.meta),
                  "method": self.method, "body": self.body, "render": self.render}
        values.update(changes)
        return Request(**values)


@dataclass
class Response:
    """A response as middlewares and the crawler see it.

    `failure`, set by a middleware, makes the crawler record the URL as failed
    with that reason although a response arrived (it is still stored).
    `encoding` is the charset the charset middleware decided on.
    """

    url: str
    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    request: Request
    elapsed: float
    encoding: str | None = None
    failure: str | None = None
    flags: set[str] = field(default_factory=set)

    def header(self, name: str, default: str | None = None) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return default

    @property
    def content_type(self) -> str:
        return (self.header("Content-Type") or "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        return charset_of(self.header("Content-Type"))

    @property
    def is_html(self) -> bool:
        return looks_html(self.content_type, self.body)


def looks_html(content_type: str, body: bytes) -> bool:
    """Whether a body of this (bare, lower-case) content type is an HTML page."""
    return content_type in ("text/html", "application/xhtml+xml") or (not content_type and body.lstrip()[:1] == b"<")


def charset_of(content_type: str | None) -> str | None:
    """The charset parameter of a Content-Type header, if any."""
    for part in (content_type or "").split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip("\"' ")
    return None


# Decoded bodies are stored; these would then describe bytes we no longer hold.
_DROP_HEADERS = {"content-encoding", "transfer-encoding", "content-length"}


class HttpDownloader:
    """urllib3 keep-alive pools (one PoolManager, one ProxyManager per proxy), thread-safe.

    ``fetch(request) -> Response`` or a `FetchError`; ``close()`` drops the
    pools and stops the deadline watchdog.
    """

    def __init__(self, *, timeout: float, max_bytes: int, user_agent: str,
                 headers: dict[str, str] | None = None, pool_size: int = 16) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.default_headers = {
            "User-Agent": user_agent,
            "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
            "Accept-Encoding": "gzip, deflate, br",
            **(headers or {}),
        }
        self.pool_size = pool_size
        self.pool = urllib3.PoolManager(
            num_pools=64, maxsize=pool_size, block=False, retries=False,
            timeout=urllib3.Timeout(connect=timeout, read=timeout),
        )
        self.pool.pool_classes_by_scheme = POOL_CLASSES
        self._proxies: dict[str, urllib3.ProxyManager] = {}
        self._proxy_lock = threading.Lock()
        self._watchdog = Watchdog()

    def _pool_for(self, proxy: str | None) -> urllib3.PoolManager:
        if not proxy:
            return self.pool
        with self._proxy_lock:
            manager = self._proxies.get(proxy)
            if manager is None:
                parts = urlsplit(proxy)
                auth = f"{unquote(parts.username or '')}:{unquote(parts.password or '')}" if parts.username else None
                bare = urlunsplit((parts.scheme, parts.hostname + (f":{parts.port}" if parts.port else ""), "", "", ""))
                manager = urllib3.ProxyManager(
                    bare, proxy_headers=urllib3.make_headers(proxy_basic_auth=auth) if auth else None,
                    num_pools=64, maxsize=self.pool_size, block=False, retries=False,
                    timeout=urllib3.Timeout(connect=self.timeout, read=self.timeout),
                )
                manager.pool_classes_by_scheme = POOL_CLASSES
                self._proxies[proxy] = manager
        return manager

    def fetch(self, request: Request) -> Response:
        headers = {**self.default_headers, **request.headers}
        started = time.monotonic()
        ticket = self._watchdog.arm(self.timeout)
        try:
            raw = self._open(request, headers)
        except BaseException as exc:
            # After a cut, what the client saw (EOF, reset, a short status line) is not the story.
            if self._watchdog.disarm(ticket) and isinstance(exc, Exception):
                raise FetchTimeout(f"response headers not complete within {self.timeout:g}s") from None
            raise
        try:
            body = self._read(raw, request.meta.get("max_bytes", self.max_bytes))
        except Exception as exc:
            # (A declared size over max_bytes stays too_large even if draining it met the deadline.)
            if ticket.fired and not isinstance(exc, ResponseTooLarge):
                raise FetchTimeout(f"body not complete within {self.timeout:g}s") from None
            raise
        finally:
            # Disarmed before the connection can go back to the pool: a cut must never
            # reach a kept-alive socket another fetch has taken meanwhile.
            if self._watchdog.disarm(ticket):
                raw.close()
            raw.release_conn()
        if ticket.fired:    # cut, yet read to an end: an EOF where the head or a close-delimited body stopped
            raise FetchTimeout(f"response not complete within {self.timeout:g}s")
        keep = [(k, v) for k, v in raw.headers.items() if k.lower() not in _DROP_HEADERS]
        keep.append(("Content-Length", str(len(body))))
        return Response(request.url, raw.status, raw.reason or "", keep, body, request, time.monotonic() - started)

    def _open(self, request: Request, headers: dict[str, str]) -> urllib3.BaseHTTPResponse:
        """Send the request and read the response head."""
        try:
            return self._pool_for(request.meta.get("proxy")).request(
                request.method, request.url, body=request.body, headers=headers, redirect=False, retries=False,
                preload_content=False, decode_content=True,
            )
        except ProxyError as exc:
            raise ConnectionFailed(f"proxy failed: {_why(exc)}", "proxy_error") from None
        except (NewConnectionError, ProtocolError, ConnectionError) as exc:
            # before the timeouts: urllib3's NewConnectionError subclasses ConnectTimeoutError
            raise ConnectionFailed(_why(exc)) from None
        except (TimeoutError, ReadTimeoutError, ConnectTimeoutError) as exc:
            raise FetchTimeout(f"no answer within {self.timeout:g}s: {exc}") from None
        except HTTPError as exc:
            raise FetchError(_why(exc), "http_error") from None

    def _read(self, raw: urllib3.BaseHTTPResponse, max_bytes: int) -> bytes:
        declared = raw.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > max_bytes:
            raw.drain_conn() if int(declared) < 4 * CHUNK else raw.close()
            raise ResponseTooLarge(f"Content-Length {declared} is over the limit of {max_bytes} bytes")
        chunks = []
        size = 0
        try:
            while True:
                chunk = raw.read(CHUNK)
                if not chunk:
                    break
                size += len(chunk)
                if size > max_bytes:
                    raw.close()
                    raise ResponseTooLarge(f"body is over the limit of {max_bytes} bytes")
                chunks.append(chunk)
        except (TimeoutError, ReadTimeoutError):
            raw.close()
            raise FetchTimeout(f"body stalled for {self.timeout:g}s") from None
        except DecodeError as exc:
            raw.close()
            raise FetchError(f"cannot decode body: {exc}", "decode_error") from None
        except (ProtocolError, ConnectionError) as exc:
            raw.close()
            raise ConnectionFailed(f"body truncated: {_why(exc)}", "truncated") from None
        return b"".join(chunks)

    def close(self) -> None:
        self.pool.clear()
        for manager in self._proxies.values():
            manager.clear()
        self._watchdog.close()


def _why(exc: BaseException) -> str:
    # urllib3 nests the useful OS error a few levels down.
    seen = exc
    while getattr(seen, "reason", None) is not None and isinstance(seen.reason, BaseException):
        seen = seen.reason
    return f"{type(seen).__name__}: {seen}"
