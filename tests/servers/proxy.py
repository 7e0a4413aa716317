"""A forward HTTP proxy for tests, and a port nothing listens on.

`ForwardProxy` answers absolute-form requests (`GET http://host:port/path
HTTP/1.1`, as urllib3's ProxyManager sends for http URLs) by forwarding them
with http.client and relaying status, headers and body as they stream in. It
adds `Via: 1.1 <name>` to the request it forwards and to the response, so a test
can tell which proxy a page went through from either end. With a username and
password it wants `Proxy-Authorization: Basic ...` and answers 407 otherwise.
Client connections are kept alive; each forwarded request uses a fresh origin
connection. CONNECT answers 501.

Failures map the usual way: origin unreachable -> 502, origin timeout -> 504,
origin cut mid-body -> the client connection is cut too (so the client sees
the truncation rather than a short body that looks complete).
"""

from __future__ import annotations

import base64
import hmac
import html
import http.client
import socket
import threading
from urllib.parse import urlsplit

from tests.servers.faults import BackgroundServer, QuietHandler

# Hop-by-hop headers (RFC 9110 7.6.1) belong to one connection and are never forwarded.
HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
                        "te", "trailer", "transfer-encoding", "upgrade"})
CHUNK = 64 * 1024

_reserved_ports: list[socket.socket] = []


def closed_port() -> int:
    """A 127.0.0.1 port that refuses connections, for "a proxy that is down".

    The port is bound but never listening, so connections get RST (refused),
    and, unlike a port freed again, nothing else can take it during the test run.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    _reserved_ports.append(sock)
    return sock.getsockname()[1]


class _ProxyHandler(QuietHandler):
    server_version = "ForwardProxy/1.0"

    @property
    def owner(self) -> ForwardProxy:
        return self.server.owner  # type: ignore[return-value]

    def do_CONNECT(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._error(501, "CONNECT is not supported by this test proxy")

    def _forward(self) -> None:
        owner = self.owner
        body = self._request_body()
        if body is None:
            return
        target = urlsplit(self.path)
        if target.scheme != "http" or not target.hostname:
            self._error(400, f"a proxy needs an absolute http URL, not {self.path!r}")
            return
        if not owner.authorized(self.headers.get("Proxy-Authorization")):
            owner.note(owner.rejected, self.command, self.path)
            self._error(407, "proxy authentication required",
                        {"Proxy-Authenticate": f'Basic realm="{owner.name}"'})
            return
        owner.note(owner.requests, self.command, self.path)

        origin = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=owner.timeout)
        try:
            try:
                origin.connect()
                if origin.sock is not None:
                    owner.track(origin.sock)      # so stop() can cut a request hanging at the origin
                self._send_upstream(origin, target.path or "/", target.query, target.netloc, body)
                response = origin.getresponse()
            except TimeoutError as exc:
                self._error(504, f"origin timed out: {exc}")
                return
            except (OSError, http.client.HTTPException) as exc:
                self._error(502, f"origin failed: {exc!r}")
                return
            self._relay(response)
        finally:
            if origin.sock is not None:
                owner.untrack(origin.sock)
            origin.close()

    def _request_body(self) -> bytes | None:
        """The request body (b"" if none); None after answering 411 for chunked uploads."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._error(411, "chunked request bodies are not supported")
            self.close_connection = True
            return None
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send_upstream(self, origin: http.client.HTTPConnection, path: str, query: str, netloc: str,
                       body: bytes) -> None:
        origin.putrequest(self.command, path + (f"?{query}" if query else ""),
                          skip_host=True, skip_accept_encoding=True)
        dropped = _connection_tokens(self.headers.get_all("Connection") or [])
        dropped |= _connection_tokens(self.headers.get_all("Proxy-Connection") or [])
        sent_host = False
        for name, value in self.headers.items():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in dropped or lower in ("via", "content-length"):
                continue
            sent_host |= lower == "host"
            origin.putheader(name, value)
        if not sent_host:
            origin.putheader("Host", netloc)
        origin.putheader("Via", _via(self.headers.get("Via"), self.owner.name))
        origin.putheader("Connection", "close")   # one origin connection per request
        if body or self.command in ("POST", "PUT", "PATCH"):
            origin.putheader("Content-Length", str(len(body)))
        origin.endheaders(body or None)

    def _relay(self, response: http.client.HTTPResponse) -> None:
        """Status, end-to-end headers and the body as it arrives (read1, so a drip stays a drip)."""
        status = response.status
        no_body = self.command == "HEAD" or status in (204, 304) or 100 <= status < 200
        dropped = _connection_tokens(response.headers.get_all("Connection") or [])
        length = None if response.chunked else response.getheader("Content-Length")
        self.send_response_only(status, response.reason)
        for name, value in response.getheaders():
            lower = name.lower()
            if lower in HOP_BY_HOP or lower in dropped or lower in ("via", "content-length"):
                continue
            self.send_header(name, value)
        self.send_header("Via", _via(response.getheader("Via"), self.owner.name))
        chunked = False
        if length is not None:
            self.send_header("Content-Length", length)
        elif not no_body:
            if self.request_version >= "HTTP/1.1":
                self.send_header("Transfer-Encoding", "chunked")
                chunked = True
            else:                                  # an HTTP/1.0 client learns the end from the close
                self.send_header("Connection", "close")
                self.close_connection = True
        self.end_headers()
        if no_body:
            return
        try:
            while data := response.read1(CHUNK):
                self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data) if chunked else data)
        except (OSError, http.client.HTTPException):
            self.close_connection = True           # the origin broke mid-body: so do we
            return
        if response.length:                        # bytes still owed by a Content-Length origin
            self.close_connection = True
            return
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        body = (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>{status}</title></head>\n"
                f"<body><h1>{status}</h1><p>{html.escape(message)}</p></body></html>\n").encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Via", f"1.1 {self.owner.name}")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


for _method in ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"):
    setattr(_ProxyHandler, f"do_{_method}", _ProxyHandler._forward)


def _connection_tokens(values: list[str]) -> set[str]:
    """Header names a Connection header marks as hop-by-hop."""
    return {token.strip().lower() for value in values for token in value.split(",") if token.strip()}


def _via(existing: str | None, name: str) -> str:
    return f"{existing}, 1.1 {name}" if existing else f"1.1 {name}"


class ForwardProxy(BackgroundServer):
    """A forward proxy named `name` (in its Via headers), optionally behind Basic auth.

    `.requests` lists the (method, absolute URL) it forwarded, `.rejected`
    those it refused with 407. `timeout` bounds each origin connect and read.
    """

    handler_class = _ProxyHandler

    def __init__(self, name: str, username: str | None = None, password: str | None = None, *,
                 timeout: float = 30.0) -> None:
        super().__init__()
        self.name = name
        self.username = username
        self.password = password
        self.timeout = timeout
        self.requests: list[tuple[str, str]] = []
        self.rejected: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    @property
    def proxy_headers(self) -> dict[str, str]:
        """The Proxy-Authorization header this proxy accepts ({} without auth), e.g. for urllib3.ProxyManager."""
        if self.username is None:
            return {}
        token = base64.b64encode(f"{self.username}:{self.password or ''}".encode()).decode()
        return {"Proxy-Authorization": f"Basic {token}"}

    def authorized(self, header: str | None) -> bool:
        if self.username is None:
            return True
        expected = self.proxy_headers["Proxy-Authorization"]
        return header is not None and hmac.compare_digest(header.strip().encode(), expected.encode())

    def note(self, log: list[tuple[str, str]], method: str, url: str) -> None:
        with self._lock:
            log.append((method, url))

    def reset(self) -> None:
        """Forget the recorded requests."""
        with self._lock:
            self.requests.clear()
            self.rejected.clear()
