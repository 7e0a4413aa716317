"""A small, fast HTTP/1.1 server for the demo site (asyncio Protocol, no http.server).

http.server handles one request per thread with a lot of per-request Python, far
too slow for crawl benchmarks; this parses requests straight off the socket and
answers from a cache of complete, pre-rendered responses.

Supports GET and HEAD, keep-alive (HTTP/1.1 default, HTTP/1.0 opt-in),
pipelining (responses strictly in request order), partial reads, and an
optional per-response latency to imitate a remote site.

CLI::

    python -m pipelines.demo.server [--host 127.0.0.1] [--port 8090]
        [--products 1000] [--latency-ms 0] [--layout-file PATH] [--pidfile PATH] [--quiet]

--layout-file names a file holding a layout of the site (site.LAYOUTS: v1, the
default, or v2, the redesign that breaks a crawl: see site.py); it is read again
whenever it changes, so `echo v2 > PATH` changes a running site between two
crawl ticks. A missing or empty file means v1.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
from collections import deque
from collections.abc import Callable, Sequence
from pathlib import Path

from pipelines.demo.site import HTML_TYPE, LAYOUTS, Page, Site, build_site

SERVER_NAME = b"demo-site"
MAX_HEAD = 16 * 1024          # request line + headers; larger is an attack or a bug
MAX_BODY = 1024 * 1024        # GET/HEAD bodies are skipped, but only up to this size
CACHE_SIZE = 20_000           # complete responses kept; ~2 KB each

_REASONS = {200: b"OK", 400: b"Bad Request", 404: b"Not Found",
            405: b"Method Not Allowed", 413: b"Payload Too Large",
            505: b"HTTP Version Not Supported"}
# Connection modes, which decide the Connection header of a response.
_KEEP, _CLOSE, _KEEP_10 = 0, 1, 2
_CONN_HEADER = {_KEEP: b"", _CLOSE: b"Connection: close\r\n",
                _KEEP_10: b"Connection: keep-alive\r\n"}
_TOKEN_CHARS = frozenset(b"!#$%&'*+-.^_`|~0123456789"
                         b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def _format(page: Page, mode: int, head_only: bool, extra: dict[str, str] | None = None) -> bytes:
    """Serialise a page as a complete HTTP/1.1 response."""
    reason = _REASONS.get(page.status, b"Unknown")
    lines = [b"HTTP/1.1 %d %s\r\n" % (page.status, reason),
             b"Server: " + SERVER_NAME + b"\r\n",
             b"Content-Type: " + page.content_type.encode("latin-1") + b"\r\n",
             # HEAD announces the length the GET body would have (RFC 9110 9.3.2).
             b"Content-Length: %d\r\n" % len(page.body)]
    for name, value in {**page.headers, **(extra or {})}.items():
        lines.append(f"{name}: {value}\r\n".encode("latin-1"))
    lines.append(_CONN_HEADER[mode])
    lines.append(b"\r\n")
    if not head_only:
        lines.append(page.body)
    return b"".join(lines)


def _error(status: int, message: str) -> Page:
    body = (f"<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{status}</title>\n</head>\n<body>\n<h1>{status}</h1>\n"
            f"<p>{message}</p>\n</body>\n</html>\n").encode()
    return Page(status, HTML_TYPE, body, {})


_BAD_REQUEST = _format(_error(400, "Malformed request."), _CLOSE, False)


class DemoServer:
    """Shared state of one listening server: the site, the response cache, connections."""

    def __init__(self, site: Site, latency_ms: float = 0.0, cache_size: int = CACHE_SIZE,
                 layout_file: Path | None = None) -> None:
        if latency_ms < 0:
            raise ValueError("latency_ms must be >= 0")
        self.site = site
        self.sites = {site.layout: site}
        self.layout_file = layout_file
        self._layout: tuple[tuple[int, int] | None, str] = (None, site.layout)
        self.latency = latency_ms / 1000.0
        self.requests = 0
        self._cache: dict[tuple[str, bool, int, str], bytes] = {}
        self._cache_size = cache_size
        self._connections: set[_HttpProtocol] = set()

    def response(self, path: str, head_only: bool, mode: int) -> bytes:
        """Complete response bytes for ``path``, from the cache when possible."""
        site = self.current_site()
        key = (path, head_only, mode, site.layout)
        data = self._cache.get(key)
        if data is None:
            page = site.get(path)
            data = _format(page, mode, head_only)
            # 404s echo arbitrary paths: caching them would let junk evict real pages.
            if page.status == 200:
                if len(self._cache) >= self._cache_size:
                    # FIFO eviction: cheap, and crawls rarely revisit pages anyway.
                    del self._cache[next(iter(self._cache))]
                self._cache[key] = data
        return data

    def current_site(self) -> Site:
        """The site in the layout --layout-file names now (one stat() per request; read when it changed)."""
        if self.layout_file is None:
            return self.site
        try:
            st = self.layout_file.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except OSError:
            stamp = None
        seen, layout = self._layout
        if stamp != seen:
            try:
                text = self.layout_file.read_text(encoding="utf-8").strip() if stamp else ""
            except OSError:
                text = ""
            layout = text if text in LAYOUTS else self.site.layout if not text else layout
            self._layout = (stamp, layout)
        site = self.sites.get(layout)
        if site is None:
            site = self.sites[layout] = build_site(self.site.products, layout)
        return site

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> asyncio.Server:
        """Start listening on the running loop; returns the asyncio server."""
        loop = asyncio.get_running_loop()
        return await loop.create_server(lambda: _HttpProtocol(self), host, port, backlog=1024)

    def close_connections(self) -> None:
        """Drop every open connection (shutdown; keep-alive clients would linger)."""
        for proto in list(self._connections):
            proto.abort()


class _HttpProtocol(asyncio.Protocol):
    """One client connection: parses pipelined requests from a byte buffer."""

    def __init__(self, server: DemoServer) -> None:
        self._server = server
        self._transport: asyncio.Transport | None = None
        self._buf = b""
        self._closing = False      # a close-ending response was queued: ignore further input
        self._paused = False       # client is not reading: stop producing responses
        self._pending: deque[tuple[bytes, bool]] = deque()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._server._connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self._closing = True
        self._buf = b""
        self._pending.clear()
        self._server._connections.discard(self)

    def abort(self) -> None:
        """Close the connection immediately, dropping unsent data."""
        if self._transport is not None:
            self._transport.abort()

    def pause_writing(self) -> None:
        # Back-pressure: a client pipelining faster than it reads must not make
        # us buffer unbounded responses.
        self._paused = True
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        self._paused = False
        if self._transport is not None and not self._closing:
            self._transport.resume_reading()
            self._process()

    def data_received(self, data: bytes) -> None:
        if self._closing:
            return
        self._buf = self._buf + data if self._buf else data
        self._process()

    def _process(self) -> None:
        """Answer every complete request in the buffer, in order."""
        out: list[bytes] = []
        buf = self._buf
        while buf and not self._closing and not self._paused:
            # RFC 9112 2.2: ignore empty lines before a request line.
            if buf[:2] == b"\r\n" or buf[:1] == b"\n":
                buf = buf.lstrip(b"\r\n")
                continue
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                # A bare-LF line ending would never complete a CRLF head: refuse
                # it now rather than leave the client waiting.
                newline = buf.find(b"\n")
                if len(buf) > MAX_HEAD or (newline > 0 and buf[newline - 1] != 13):
                    self._emit(out, _BAD_REQUEST, True)
                break
            parsed = self._parse(buf[:end]) if end <= MAX_HEAD else None
            if parsed is None:
                self._emit(out, _BAD_REQUEST, True)
                break
            data, close, body_len = parsed
            if end + 4 + body_len > len(buf):
                break  # wait for the rest of the (ignored) request body
            buf = buf[end + 4 + body_len:]
            self._server.requests += 1
            self._emit(out, data, close)
        self._buf = b"" if self._closing else buf
        if out and self._transport is not None:
            # One write per batch of pipelined requests: fewer syscalls.
            self._transport.write(b"".join(out) if len(out) > 1 else out[0])
            if self._closing:
                self._transport.close()

    def _emit(self, out: list[bytes], data: bytes, close: bool) -> None:
        if close:
            self._closing = True
        if self._server.latency <= 0:
            out.append(data)
            return
        # Delayed responses go through a FIFO and every timer sends the oldest
        # one: timers with equal deadlines may fire in any order, the queue
        # keeps pipelined responses in request order regardless.
        self._pending.append((data, close))
        asyncio.get_running_loop().call_later(self._server.latency, self._send_oldest)

    def _send_oldest(self) -> None:
        transport = self._transport
        if not self._pending or transport is None or transport.is_closing():
            return
        data, close = self._pending.popleft()
        transport.write(data)
        if close:
            transport.close()

    def _parse(self, head: bytes) -> tuple[bytes, bool, int] | None:
        """Parse one request head; returns (response, close_after, body_length) or None if bad."""
        crlf = head.count(b"\r\n")
        if head.count(b"\n") != crlf or head.count(b"\r") != crlf:
            return None  # stray CR or LF inside a line: ambiguous framing
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ")
        if len(parts) != 3:
            return None
        method, target, version = parts
        if version == b"HTTP/1.1":
            mode = _KEEP
        elif version == b"HTTP/1.0":
            mode = _CLOSE
        elif version[:5] == b"HTTP/" and len(version) == 8 and version[5:6].isdigit():
            return _format(_error(505, "Only HTTP/1.0 and 1.1."), _CLOSE, False), True, 0
        else:
            return None
        if not method or not _TOKEN_CHARS.issuperset(method):
            return None
        body_len = 0
        seen_length: bytes | None = None
        for line in lines[1:]:
            name, sep, value = line.partition(b":")
            # No colon, empty name, whitespace in the name or obsolete line folding.
            if not sep or not name or not _TOKEN_CHARS.issuperset(name):
                return None
            lname = name.lower()
            if lname == b"connection":
                tokens = {t.strip().lower() for t in value.split(b",")}
                if b"close" in tokens:
                    mode = _CLOSE
                elif b"keep-alive" in tokens and version == b"HTTP/1.0":
                    mode = _KEEP_10
            elif lname == b"content-length":
                value = value.strip()
                # Conflicting lengths are a request-smuggling vector: refuse them.
                if not value.isdigit() or (seen_length is not None and value != seen_length):
                    return None
                seen_length = value
                body_len = int(value)
                if body_len > MAX_BODY:
                    return _format(_error(413, "Request body too large."), _CLOSE, False), True, 0
            elif lname == b"transfer-encoding":
                return None  # no request bodies are expected; chunked framing is not supported
        if target[:1] != b"/":
            # Absolute-form (proxies send it): keep only the path.
            if target[:7].lower() == b"http://" or target[:8].lower() == b"https://":
                slash = target.find(b"/", target.find(b"//") + 2)
                target = target[slash:] if slash >= 0 else b"/"
            else:
                return None
        close = mode == _CLOSE
        if method == b"GET" or method == b"HEAD":
            path = target.decode("latin-1")
            return self._server.response(path, method == b"HEAD", mode), close, body_len
        page = _error(405, "Only GET and HEAD.")
        return _format(page, mode, False, {"Allow": "GET, HEAD"}), close, body_len


def serve_in_thread(products: int, host: str = "127.0.0.1", port: int = 0,
                    latency_ms: float = 0.0) -> tuple[str, Callable[[], None]]:
    """Serve a ``products``-sized site from a daemon thread with its own event loop.

    Returns ``(base_url, stop)``; ``base_url`` ends with ``/`` and ``stop()``
    (idempotent) closes the server and its connections and joins the thread.
    """
    ready = threading.Event()
    state: dict[str, object] = {}

    def run() -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        demo = DemoServer(build_site(products), latency_ms)
        try:
            server = loop.run_until_complete(demo.start(host, port))
        except BaseException as exc:  # report startup failures to the caller
            state["error"] = exc
            ready.set()
            loop.close()
            return
        state["loop"] = loop
        state["url"] = _url(host, server.sockets[0].getsockname()[1])
        ready.set()
        try:
            loop.run_forever()
        finally:
            server.close()
            demo.close_connections()
            loop.run_until_complete(server.wait_closed())
            loop.run_until_complete(asyncio.sleep(0))  # let connection_lost callbacks run
            loop.close()

    thread = threading.Thread(target=run, name=f"demo-site-{products}", daemon=True)
    thread.start()
    ready.wait()
    if "error" in state:
        raise state["error"]  # type: ignore[misc]
    loop: asyncio.AbstractEventLoop = state["loop"]  # type: ignore[assignment]

    def stop() -> None:
        if thread.is_alive():
            try:
                loop.call_soon_threadsafe(loop.stop)
            except RuntimeError:  # loop already closed
                pass
            thread.join(timeout=10)

    return str(state["url"]), stop


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m pipelines.demo.server",
                                     description="Serve the generated demo catalogue.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8090, help="port; 0 picks a free one")
    parser.add_argument("--products", type=int, default=1000, help="catalogue size")
    parser.add_argument("--latency-ms", type=float, default=0.0,
                        help="delay added to every response, to imitate a remote site")
    parser.add_argument("--layout-file", type=Path,
                        help=f"a file naming the site's layout ({', '.join(LAYOUTS)}), read again when it changes")
    parser.add_argument("--pidfile", type=Path, help="write the process id here while serving")
    parser.add_argument("--quiet", action="store_true",
                        help="no shutdown summary on stderr (the ready line is always printed)")
    args = parser.parse_args(argv)
    if args.products < 1:
        parser.error("--products must be >= 1")
    if args.latency_ms < 0:
        parser.error("--latency-ms must be >= 0")
    if not 0 <= args.port <= 65535:
        parser.error("--port must be in 0..65535")
    return args


async def _serve(args: argparse.Namespace) -> int:
    demo = DemoServer(build_site(args.products), args.latency_ms, layout_file=args.layout_file)
    server = await demo.start(args.host, args.port)
    port = server.sockets[0].getsockname()[1]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    pidfile: Path | None = args.pidfile
    try:
        if pidfile is not None:
            # Write then rename, so a watcher never reads a half-written pid.
            tmp = pidfile.with_name(pidfile.name + ".tmp")
            tmp.write_text(f"{os.getpid()}\n")
            tmp.replace(pidfile)
        # Printed only once the socket listens: callers wait for this line.
        print(f"demo site serving {args.products} products at {_url(args.host, port)}", flush=True)
        await stop.wait()
    finally:
        server.close()
        demo.close_connections()
        await server.wait_closed()
        if pidfile is not None:
            pidfile.unlink(missing_ok=True)
    if not args.quiet:
        print(f"demo site stopped after {demo.requests} requests", file=sys.stderr, flush=True)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """CLI entry point; returns the process exit code (0 after SIGTERM/SIGINT)."""
    args = _parse_args(argv)
    try:
        return asyncio.run(_serve(args))
    except OSError as exc:  # e.g. port already in use: one line, not a traceback
        print(f"demo site: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
