"""A site of crawler traps and duplicate URLs, for the discovery and dedupe tests.

`TrapServer` (127.0.0.1, free port, daemon threads, like FaultServer) counts
every request by its target (path and query, as sent) in `hits`.

Endpoints (HTML pages; the links of each are listed)::

    /dupes/                    one page under many spellings: /dupes/p?b=2&a=1,
                               /dupes/p?a=1&b=2, the same with utm_* parameters,
                               /dupes/q with utm_campaign, gclid, fbclid or a
                               fragment, /dupes/r?x=%7e and ?x=~, and
                               /moved?b=2&a=1 (a 301 to /moved?a=1&b=2)
    /dupes/p, /dupes/q, /dupes/r, /moved?a=1&b=2   leaves (no links)
    /calendar/YYYY-MM          an endless calendar: the previous and the next month
    /list?page=N               endless pagination: page N+1
    /s/SID/page-N              a fresh session id in every link: /s/SID2/page-N+1
    /hub                       /mid;  /mid links /target;  /target is a leaf
    /slow-hub                  503 on the first request, then a page linking /target
    /robots.txt                allows everything
    anything else              404
"""

from __future__ import annotations

import hashlib
import threading
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from tests.servers.faults import BackgroundServer, QuietHandler

DUPES_LINKS = (
    "/dupes/p?b=2&a=1", "/dupes/p?a=1&b=2", "/dupes/p?a=1&b=2&utm_source=news&utm_medium=email",
    "/dupes/q?utm_campaign=spring", "/dupes/q", "/dupes/q?gclid=abc", "/dupes/q?fbclid=def#top",
    "/dupes/r?x=%7e", "/dupes/r?x=~", "/moved?b=2&a=1",
)
LEAVES = ("/dupes/p", "/dupes/q", "/dupes/r", "/target")


def _page(*links: str) -> bytes:
    anchors = "".join(f'<a href="{href}">{href}</a>\n' for href in links)
    return f"<!DOCTYPE html><html><head><title>trap</title></head><body>\n{anchors}</body></html>\n".encode()


def _month(year: int, month: int, step: int) -> str:
    index = year * 12 + month - 1 + step
    return f"/calendar/{index // 12:04d}-{index % 12 + 1:02d}"


class _TrapHandler(QuietHandler):
    server_version = "TrapServer/1.0"

    def do_GET(self) -> None:  # noqa: N802
        owner: TrapServer = self.server.owner  # type: ignore[assignment]
        seen = owner.record(self.path)
        parts = urlsplit(self.path)
        path, query = parts.path, parse_qs(parts.query)
        if path == "/robots.txt":
            return self._send(200, b"User-agent: *\nAllow: /\n", "text/plain")
        if path == "/dupes/":
            return self._send(200, _page(*DUPES_LINKS))
        if path in LEAVES or (path == "/moved" and parts.query == "a=1&b=2"):
            return self._send(200, _page())
        if path == "/moved":
            return self._redirect("/moved?a=1&b=2")
        if path.startswith("/calendar/"):
            try:
                year, month = (int(n) for n in path.removeprefix("/calendar/").split("-"))
            except ValueError:
                return self._send(404, b"no such month")
            return self._send(200, _page(_month(year, month, -1), _month(year, month, 1)))
        if path == "/list":
            page = int(query.get("page", ["1"])[0])
            return self._send(200, _page(f"/list?page={page + 1}"))
        if path.startswith("/s/"):
            _, _, sid, name = path.split("/", 3)
            n = int(name.removeprefix("page-"))
            fresh = hashlib.sha1(f"{sid}{n}".encode()).hexdigest()[:10]
            return self._send(200, _page(f"/s/{fresh}/page-{n + 1}"))
        if path == "/hub":
            return self._send(200, _page("/mid"))
        if path == "/mid":
            return self._send(200, _page("/target"))
        if path == "/slow-hub":
            return self._send(503, b"busy") if seen == 0 else self._send(200, _page("/target"))
        return self._send(404, b"not found")


    def _redirect(self, location: str) -> None:
        self.send_response(301)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()


class TrapServer(BackgroundServer):
    """The trap site; see the module docstring for its endpoints."""

    handler_class = _TrapHandler

    def __init__(self) -> None:
        super().__init__()
        self.hits: Counter[str] = Counter()
        self._lock = threading.Lock()

    def record(self, target: str) -> int:
        """Count a request; returns how many requests that target had before."""
        with self._lock:
            seen = self.hits[target]
            self.hits[target] = seen + 1
            return seen

    def hits_under(self, path: str) -> dict[str, int]:
        """Requests whose path (query left out) is `path`, by target."""
        with self._lock:
            return {t: n for t, n in self.hits.items() if t.partition("?")[0] == path}
