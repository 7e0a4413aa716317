"""A hostile HTTP server for crawler tests: hangs, resets, lies and drips.

`FaultServer` runs a ThreadingHTTPServer on 127.0.0.1 (free port) in daemon
threads, so a hanging connection never blocks another one and `stop()` never
waits for one: every sleep waits on a stop event, and stop() shuts down every
open connection socket. Every request is recorded as a `Hit`.

"Fail N times, then succeed" endpoints count requests per (path, `key` query
parameter), so tests using different keys never interfere. With `tls=` (a
server-side SSLContext) the same site answers HTTPS.

Endpoints (HTML with `<meta charset>` unless noted; a success page contains
`<h1>OK PATH</h1>` (PATH without the query) and `<p class="marker">ok</p>`)::

    /                               index linking to index_paths()
    /hang?seconds=60                read the request, sleep, then answer
    /reset                          TCP RST instead of an answer
    /status/CODE?fail=N&key=K&retry_after=S
                                    CODE for the first N (default: all) requests of K, then 200
    /redirect/loop/a, /redirect/loop/b
                                    302 to each other, forever
    /redirect/chain?n=3             302 to ?n=2 ... n=0 answers 200
    /redirect/to-error              302 to /404.html, which answers 200 "Page not found"
    /soft-error?fail=N&key=K        200 with an error <div> for the first N requests, then OK
    /truncate                       Content-Length 10000, 4000 bytes sent, then close
    /big?mb=20                      an mb MiB body, streamed
    /drip?seconds=30                1 byte every 0.2 s, correct Content-Length, then close
    /drip/head?interval=0.1&burst=1&seconds=30&framing=length&encoding=identity
    /drip/body?...                  the same drip in one phase of the response: `head` drips the
                                    status line and headers (padded with an X-Pad header), `body`
                                    sends the head at once and drips the body bytes as framed on
                                    the wire. `burst` bytes every `interval` s for `seconds`, then
                                    the rest at once, so a patient client gets the complete OK
                                    page; framing length (Content-Length), chunked or close (EOF
                                    ends the body); encoding identity or gzip. Not in the index.
    /charset/header-lies            header says iso-8859-1, body is UTF-8 (meta says so)
    /charset/none                   no charset in the header, windows-1252 body, http-equiv meta
    /charset/bom                    UTF-8 with BOM, no charset anywhere
    /encoding/gzip|deflate|br       OK page compressed, whatever Accept-Encoding says
    /encoding/bad-gzip              Content-Encoding gzip, garbage body
    /robots.txt                     disallows /private/
    /private/...                    200 (a polite crawler never asks)
    /cookie/set, /cookie/check      sets session=abc123; check answers 403 without it
    /echo                           request headers as JSON in <pre id="headers">
    /slow?ms=500                    answers after ms milliseconds
    anything else                   404
"""

from __future__ import annotations

import gzip
import html
import json
import os
import random
import socket
import ssl
import struct
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

import brotli

HOST = "127.0.0.1"
MARKER_HTML = '<p class="marker">ok</p>'
META_UTF8 = '<meta charset="utf-8">'

# Expected texts, so tests can check what a parser decoded.
CHARSET_HEADER_LIES_TEXT = "Café ünïcode €"
CHARSET_NONE_TEXT = "Café “quotes” €"
CHARSET_BOM_TEXT = "Zoë’s naïve façade ✓"
SOFT_ERROR_TEXT = "Service temporarily unavailable"
SOFT_ERROR_HTML = f'<div class="error">{SOFT_ERROR_TEXT}</div>'
NOT_FOUND_PAGE_TEXT = "Page not found"
ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"
COOKIE_NAME = "session"
COOKIE_VALUE = "abc123"
BAD_GZIP_BODY = b"this is not gzip data, whatever the header says\n" * 8

DRIP_INTERVAL = 0.2          # seconds between two bytes of /drip
DRIP_FRAMINGS = ("length", "chunked", "close")    # how /drip/head|body tell where the body ends
DRIP_ENCODINGS = ("identity", "gzip")
TRUNCATE_DECLARED = 10_000   # Content-Length /truncate announces
TRUNCATE_SENT = 4_000        # bytes /truncate really sends
MIB = 1024 * 1024
_FILLER = (b"." * 63 + b"\n") * 1024   # 64 KiB of comment padding for /big, built once


def page(path: str, body_html: str = "", *, ok: bool = True, meta: str = META_UTF8, title: str | None = None) -> str:
    """A complete HTML page; with ok=True it carries the success markers for `path`."""
    heading = f"<h1>OK {html.escape(path)}</h1>\n{MARKER_HTML}\n" if ok else ""
    title = html.escape(title if title is not None else f"OK {path}" if ok else path)
    return (f"<!DOCTYPE html>\n<html><head>{meta}<title>{title}</title></head>\n"
            f"<body>\n{heading}{body_html}\n</body></html>\n")


def ok_page(path: str, body_html: str = "") -> bytes:
    """The UTF-8 success page for `path`, as served by most endpoints."""
    return page(path, body_html).encode()


@dataclass(frozen=True)
class Hit:
    """One request the server received."""

    method: str
    path: str                 # with the query string
    time: float               # time.monotonic() when the request head was read
    headers: Headers
    client: tuple[str, int]   # the peer address


class Headers(dict[str, str]):
    """Request headers as sent (original case), looked up case-insensitively.

    Header names are case-insensitive in HTTP, and tests should not depend on
    how a client capitalises them. A repeated header keeps its values joined
    with ", ".
    """

    def _key(self, name: object) -> object:
        if isinstance(name, str) and not super().__contains__(name):
            for key in self.keys():
                if key.lower() == name.lower():
                    return key
        return name

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(self._key(name))  # type: ignore[arg-type]

    def __contains__(self, name: object) -> bool:
        return super().__contains__(self._key(name))

    def get(self, name: str, default: Any = None) -> Any:  # type: ignore[override]
        return super().get(self._key(name), default)  # type: ignore[arg-type]

    @classmethod
    def from_message(cls, items: Iterator[tuple[str, str]] | list[tuple[str, str]]) -> Headers:
        headers = cls()
        for name, value in items:
            key = headers._key(name)
            if isinstance(key, str) and dict.__contains__(headers, key):
                headers[key] = f"{dict.__getitem__(headers, key)}, {value}"
            else:
                headers[name] = value
        return headers


# -- a threaded server that stops promptly ------------------------------------

class _HTTPServer(ThreadingHTTPServer):
    """ThreadingHTTPServer that never joins handler threads and keeps quiet about dropped clients."""

    daemon_threads = True
    block_on_close = False        # server_close() must not wait for a hanging handler
    request_queue_size = 128

    def __init__(self, owner: BackgroundServer, handler: type[BaseHTTPRequestHandler]) -> None:
        self.owner = owner
        super().__init__((HOST, 0), handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-answer (timeouts, stop()) are what these tests are about, not errors.
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError) or self.owner.stopping.is_set():
            return
        super().handle_error(request, client_address)


class BackgroundServer:
    """start()/stop()/url/context manager around an http.server handler class, in daemon threads."""

    handler_class: type[BaseHTTPRequestHandler]
    tls: ssl.SSLContext | None = None     # serve HTTPS with this server-side context

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._httpd.server_address[1]

    @property
    def url(self) -> str:
        """"http://127.0.0.1:PORT" ("https://" with `tls`), without a trailing slash."""
        return f"{'https' if self.tls else 'http'}://{HOST}:{self.port}"

    def start(self) -> Self:
        if self._httpd is not None:
            return self
        self.stopping.clear()
        self._httpd = _HTTPServer(self, self.handler_class)
        if self.tls is not None:
            # The handshake happens on the handler thread's first read, not in the accept loop,
            # so a client that never handshakes cannot stall the server.
            self._httpd.socket = self.tls.wrap_socket(self._httpd.socket, server_side=True,
                                                      do_handshake_on_connect=False)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"{type(self).__name__}:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and cut every open connection; never waits for a handler."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self.stopping.set()        # wakes every sleeping /hang, /drip, /slow
        httpd.shutdown()           # the accept loop ends within one poll interval
        httpd.server_close()
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:       # unblocks handlers reading from idle keep-alive clients
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=2)

    def track(self, sock: socket.socket) -> None:
        """Remember an open socket so stop() can cut it."""
        with self._sockets_lock:
            self._sockets.add(sock)

    def untrack(self, sock: socket.socket) -> None:
        with self._sockets_lock:
            self._sockets.discard(sock)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


class QuietHandler(BaseHTTPRequestHandler):
    """HTTP/1.1 keep-alive handler that registers its socket with the owning BackgroundServer."""

    protocol_version = "HTTP/1.1"
    timeout = 120                 # an abandoned keep-alive connection frees its thread eventually
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; with Nagle on, delayed ACKs would
        # add ~40 ms to every keep-alive response and spoil latency and throttle tests.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def version_string(self) -> str:
        return self.server_version     # without the Python version http.server appends

    def _send(self, status: int, body: bytes, content_type: str = "text/html; charset=utf-8",
              headers: Mapping[str, str] | None = None) -> None:
        """A complete response with Content-Length, so the connection can stay open."""
        self.send_response(status)
        if content_type:
            self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        no_body = status in (204, 304)
        if not no_body:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and not no_body:
            self.wfile.write(body)


# -- the fault server -----------------------------------------------------------

class _BadParam(ValueError):
    pass


class _FaultHandler(QuietHandler):
    server_version = "FaultServer/1.0"

    def do_GET(self) -> None:
        self._dispatch()

    def do_HEAD(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self._dispatch()

    # -- plumbing -----------------------------------------------------------------

    @property
    def owner(self) -> FaultServer:
        return self.server.owner  # type: ignore[return-value]

    def _dispatch(self) -> None:
        target = self.path
        if "://" in target.split("?", 1)[0]:     # absolute-form: a client treating us as a proxy
            parts = urlsplit(target)
            target = parts.path + (f"?{parts.query}" if parts.query else "")
        parts = urlsplit(target or "/")
        self.route_path = parts.path or "/"
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.owner.record(Hit(self.command, target, time.monotonic(),
                              Headers.from_message(self.headers.items()), self.client_address[:2]))
        handler = self._route(self.route_path)
        try:
            handler()
        except _BadParam as exc:
            self._send(400, page(self.route_path, f"<p>{html.escape(str(exc))}</p>", ok=False,
                                 title="Bad Request").encode())

    def _route(self, path: str) -> Callable[[], None]:
        exact: dict[str, Callable[[], None]] = {
            "/": self._index,
            "/hang": self._hang,
            "/reset": self._reset,
            "/redirect/loop/a": lambda: self._redirect("/redirect/loop/b"),
            "/redirect/loop/b": lambda: self._redirect("/redirect/loop/a"),
            "/redirect/chain": self._chain,
            "/redirect/to-error": lambda: self._redirect("/404.html"),
            "/404.html": self._fake_404,
            "/soft-error": self._soft_error,
            "/truncate": self._truncate,
            "/big": self._big,
            "/drip": self._drip,
            "/drip/head": lambda: self._drip_phase("head"),
            "/drip/body": lambda: self._drip_phase("body"),
            "/charset/header-lies": self._charset_header_lies,
            "/charset/none": self._charset_none,
            "/charset/bom": self._charset_bom,
            "/encoding/gzip": lambda: self._encoded("gzip", gzip.compress(ok_page(path), mtime=0)),
            "/encoding/deflate": lambda: self._encoded("deflate", zlib.compress(ok_page(path))),
            "/encoding/br": lambda: self._encoded("br", brotli.compress(ok_page(path))),
            "/encoding/bad-gzip": lambda: self._encoded("gzip", BAD_GZIP_BODY),
            "/robots.txt": lambda: self._send(200, ROBOTS_TXT.encode(), "text/plain; charset=utf-8"),
            "/cookie/set": self._cookie_set,
            "/cookie/check": self._cookie_check,
            "/echo": self._echo,
            "/slow": self._slow,
        }
        if path in exact:
            return exact[path]
        if path.startswith("/status/"):
            return self._status
        if path.startswith("/private/"):
            return lambda: self._send(200, ok_page(path))
        return self._not_found

    def _number(self, name: str, default: float | None) -> float | None:
        raw = self.query.get(name)
        if raw is None or raw == "":
            return default
        try:
            return float(raw)
        except ValueError:
            raise _BadParam(f"{name}={raw!r} is not a number") from None

    def _head_only(self, status: int, length: int, content_type: str = "text/html; charset=utf-8",
                   close: bool = False) -> bool:
        """Send a response head; True if a body should follow (not HEAD)."""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        return self.command != "HEAD"

    # -- endpoints ------------------------------------------------------------------

    def _index(self) -> None:
        links = "\n".join(f'<li><a href="{html.escape(p)}">{html.escape(p)}</a></li>'
                          for p in self.owner.index_paths())
        self._send(200, ok_page("/", f"<ul>\n{links}\n</ul>"))

    def _not_found(self) -> None:
        self._send(404, page(self.route_path, "<h1>Not Found</h1>", ok=False, title="Not Found").encode())

    def _hang(self) -> None:
        seconds = self._number("seconds", 60)
        if self.owner.stopping.wait(seconds):
            self.close_connection = True       # stopped while hanging: leave without an answer
            return
        self._send(200, ok_page(self.route_path))

    def _reset(self) -> None:
        # SO_LINGER on with a 0 s timeout makes close() send RST instead of FIN. Close the
        # descriptor right here: the makefile() objects still refer to the socket, so a
        # plain close() would be delayed, and socketserver would shutdown(SHUT_WR) -- a FIN -- first.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        os.close(self.connection.detach())

    def _status(self) -> None:
        raw = self.route_path.removeprefix("/status/")
        if not raw.isdigit() or not 200 <= int(raw) <= 599:
            raise _BadParam(f"status {raw!r} must be 200..599")
        code = int(raw)
        fail = self._number("fail", None)
        seen = self.owner.count(self.route_path, self.query.get("key", ""))
        if fail is not None and seen >= fail:
            self._send(200, ok_page(self.route_path))
            return
        headers = {}
        if "retry_after" in self.query:
            headers["Retry-After"] = self.query["retry_after"]
        body = page(self.route_path, f"<h1>Error {code}</h1>", ok=False, title=f"Error {code}").encode()
        self._send(code, body, headers=headers)

    def _redirect(self, location: str, status: int = 302) -> None:
        body = page(self.route_path, f'<p>Moved to <a href="{html.escape(location)}">{html.escape(location)}</a></p>',
                    ok=False, title="Found").encode()
        self._send(status, body, headers={"Location": location})

    def _chain(self) -> None:
        n = int(self._number("n", 3) or 0)
        if n <= 0:
            self._send(200, ok_page(self.route_path))
        else:
            self._redirect(f"/redirect/chain?n={n - 1}")

    def _fake_404(self) -> None:
        self._send(200, page(self.route_path, f"<h1>{NOT_FOUND_PAGE_TEXT}</h1>", ok=False,
                             title=NOT_FOUND_PAGE_TEXT).encode())

    def _soft_error(self) -> None:
        fail = self._number("fail", None)
        seen = self.owner.count(self.route_path, self.query.get("key", ""))
        if fail is not None and seen >= fail:
            self._send(200, ok_page(self.route_path))
        else:
            self._send(200, page(self.route_path, SOFT_ERROR_HTML, ok=False, title="Oops").encode())

    def _truncate(self) -> None:
        full = ok_page(self.route_path, "<!--" + "." * TRUNCATE_DECLARED + "-->")[:TRUNCATE_DECLARED]
        # No "Connection: close": the server "crashes" mid-body, as far as the client knows.
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(TRUNCATE_DECLARED))
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(full[:TRUNCATE_SENT])

    def _big(self) -> None:
        mb = self._number("mb", 20) or 0
        head = ok_page(self.route_path).split(b"</body>")[0] + b"<!--\n"
        tail = b"-->\n</body></html>\n"
        total = max(int(mb * MIB), len(head) + len(tail))
        if not self._head_only(200, total):
            return
        self.wfile.write(head)
        left = total - len(head) - len(tail)
        while left > 0:         # streamed from one shared 64 KiB block, never the whole body
            chunk = _FILLER if left >= len(_FILLER) else _FILLER[:left]
            self.wfile.write(chunk)
            left -= len(chunk)
        self.wfile.write(tail)

    def _drip(self) -> None:
        seconds = self._number("seconds", 30) or 0
        count = max(1, round(seconds / DRIP_INTERVAL))
        body = ok_page(self.route_path)
        body = body[:count] if len(body) >= count else body + b" " * (count - len(body))
        if not self._head_only(200, count, close=True):
            return
        for i in range(count):
            if self.owner.stopping.wait(DRIP_INTERVAL):
                return
            self.wfile.write(body[i:i + 1])

    def _drip_phase(self, phase: str) -> None:
        interval = self._number("interval", 0.1) or 0
        burst = int(self._number("burst", 1) or 0)
        seconds = self._number("seconds", 30) or 0
        framing = self.query.get("framing", "length")
        encoding = self.query.get("encoding", "identity")
        if interval <= 0 or burst < 1 or seconds < 0:
            raise _BadParam("interval must be > 0, burst >= 1 and seconds >= 0")
        if framing not in DRIP_FRAMINGS or encoding not in DRIP_ENCODINGS:
            raise _BadParam(f"framing must be one of {', '.join(DRIP_FRAMINGS)}; "
                            f"encoding one of {', '.join(DRIP_ENCODINGS)}")
        writes = max(1, round(seconds / interval))
        dripped = writes * burst     # bytes that trickle; the rest goes at once after them
        head, payload = _drip_response(self.route_path, phase, dripped, framing, encoding,
                                       self.server_version, self.command == "HEAD")
        if framing == "close":
            self.close_connection = True
        wire = head + payload
        start = 0 if phase == "head" else len(head)
        if start:
            self.wfile.write(head)
        for i in range(writes):
            if self.owner.stopping.wait(interval):
                self.close_connection = True
                return
            self.wfile.write(wire[start + i * burst:start + (i + 1) * burst])
        self.wfile.write(wire[start + dripped:])

    def _charset_header_lies(self) -> None:
        body = page(self.route_path, f"<p id=\"text\">{CHARSET_HEADER_LIES_TEXT}</p>").encode("utf-8")
        self._send(200, body, "text/html; charset=iso-8859-1")

    def _charset_none(self) -> None:
        meta = '<meta http-equiv="Content-Type" content="text/html; charset=windows-1252">'
        body = page(self.route_path, f"<p id=\"text\">{CHARSET_NONE_TEXT}</p>", meta=meta).encode("windows-1252")
        self._send(200, body, "text/html")

    def _charset_bom(self) -> None:
        body = page(self.route_path, f"<p id=\"text\">{CHARSET_BOM_TEXT}</p>", meta="").encode("utf-8-sig")
        self._send(200, body, "text/html")

    def _encoded(self, encoding: str, body: bytes) -> None:
        self._send(200, body, headers={"Content-Encoding": encoding})

    def _cookie_set(self) -> None:
        body = ok_page(self.route_path, '<p><a href="/cookie/check">check the cookie</a></p>')
        self._send(200, body, headers={"Set-Cookie": f"{COOKIE_NAME}={COOKIE_VALUE}; Path=/"})

    def _cookie_check(self) -> None:
        cookies: SimpleCookie = SimpleCookie()
        for header in self.headers.get_all("Cookie") or []:
            try:
                cookies.load(header)
            except CookieError:
                pass
        morsel = cookies.get(COOKIE_NAME)
        if morsel is not None and morsel.value == COOKIE_VALUE:
            self._send(200, ok_page(self.route_path))
        else:
            self._send(403, page(self.route_path, "<h1>Forbidden: no session cookie</h1>", ok=False,
                                 title="Forbidden").encode())

    def _echo(self) -> None:
        headers = Headers.from_message(self.headers.items())
        text = html.escape(json.dumps(headers, indent=2, ensure_ascii=False), quote=False)
        self._send(200, ok_page(self.route_path, f'<pre id="headers">{text}</pre>'))

    def _slow(self) -> None:
        ms = self._number("ms", 500) or 0
        if self.owner.stopping.wait(ms / 1000):
            self.close_connection = True
            return
        self._send(200, ok_page(self.route_path))


def _drip_response(path: str, phase: str, dripped: int, framing: str, encoding: str, server: str,
                   head_only: bool) -> tuple[bytes, bytes]:
    """(head, payload) of a /drip/PHASE answer, padded so the dripped phase has >= `dripped` bytes."""
    body = ok_page(path)
    if phase == "body" and not head_only:
        # Padding in a comment; random hex for gzip, which would squeeze dots to nothing.
        need = dripped + 64
        filler = random.Random(need).randbytes(need).hex() if encoding == "gzip" else "." * need
        body = body.replace(b"</body>", f"<!-- {filler} -->\n</body>".encode())
    if encoding == "gzip":
        body = gzip.compress(body, mtime=0)
    if framing == "chunked":
        pieces = [body[i:i + 256] for i in range(0, len(body), 256)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"
    else:
        payload = body
    lines = ["HTTP/1.1 200 OK", f"Server: {server}", "Content-Type: text/html; charset=utf-8"]
    if encoding == "gzip":
        lines.append("Content-Encoding: gzip")
    lines.append({"length": f"Content-Length: {len(body)}", "chunked": "Transfer-Encoding: chunked",
                  "close": "Connection: close"}[framing])
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    if phase == "head" and len(head) < dripped:
        # X-Pad lines of <= 4000 bytes: clients refuse header lines over 64 KiB
        missing = dripped - len(head)
        pads = [f"X-Pad: {'.' * min(4000, missing - n)}" for n in range(0, missing, 4000)]
        head = ("\r\n".join([*lines, *pads]) + "\r\n\r\n").encode()
    return head, b"" if head_only else payload


class FaultServer(BackgroundServer):
    """The hostile site; see the module docstring for its endpoints.

    The keyword arguments are the parameters the index page (and
    index_paths()) uses for the slow endpoints, so a crawl test can keep them short;
    `tls` (a server-side SSLContext with a certificate loaded) makes it an HTTPS site.
    """

    handler_class = _FaultHandler

    def __init__(self, *, hang_seconds: float = 60, drip_seconds: float = 30, big_mb: float = 20,
                 slow_ms: int = 500, chain_length: int = 3, tls: ssl.SSLContext | None = None) -> None:
        super().__init__()
        self.tls = tls
        self.hang_seconds = hang_seconds
        self.drip_seconds = drip_seconds
        self.big_mb = big_mb
        self.slow_ms = slow_ms
        self.chain_length = chain_length
        self._hits: list[Hit] = []
        self._counts: Counter[tuple[str, str]] = Counter()
        self._lock = threading.Lock()

    def index_paths(self) -> list[str]:
        """The paths the index page links to, with this server's parameters.

        /cookie/check, /404.html and /redirect/loop/b are reached through
        /cookie/set and the redirects; /robots.txt is not linked.
        The fail counters of the "index-*" keys persist until reset_keys().
        """
        return [
            f"/hang?seconds={self.hang_seconds:g}",
            "/reset",
            "/status/500?fail=2&key=index-500",
            "/status/503?fail=1&key=index-503&retry_after=1",
            "/status/429?fail=1&key=index-429&retry_after=1",
            "/status/404",
            "/redirect/loop/a",
            f"/redirect/chain?n={self.chain_length}",
            "/redirect/to-error",
            "/soft-error?fail=1&key=index",
            "/truncate",
            f"/big?mb={self.big_mb:g}",
            f"/drip?seconds={self.drip_seconds:g}",
            "/charset/header-lies",
            "/charset/none",
            "/charset/bom",
            "/encoding/gzip",
            "/encoding/deflate",
            "/encoding/br",
            "/encoding/bad-gzip",
            "/private/x",
            "/cookie/set",
            "/echo",
            f"/slow?ms={self.slow_ms}",
        ]

    # -- request records ----------------------------------------------------------

    def hits(self, path_prefix: str = "") -> list[Hit]:
        """Requests whose path (with query) starts with `path_prefix`, oldest first."""
        with self._lock:
            return [hit for hit in self._hits if hit.path.startswith(path_prefix)]

    def reset_hits(self) -> None:
        with self._lock:
            self._hits.clear()

    def reset_keys(self) -> None:
        """Forget every fail-N counter (the hits stay)."""
        with self._lock:
            self._counts.clear()

    def record(self, hit: Hit) -> None:
        with self._lock:
            self._hits.append(hit)

    def count(self, path: str, key: str) -> int:
        """How many requests (path, key) had before this one; counts this one."""
        with self._lock:
            seen = self._counts[path, key]
            self._counts[path, key] = seen + 1
            return seen
