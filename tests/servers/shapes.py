"""Three site shapes whose pages <a href> alone cannot reach, for the [links] tests.

`ShapesServer` (127.0.0.1, free port, daemon threads, like TrapServer) counts
requests by (method, target, body) in `hits`. Every item page is
`<h1>TITLE</h1><span class="price">PRICE</span>`, its expected fields in
`ITEMS[path]`.

A paginated shop whose pages link each other only with <link rel="next">::

    /shop/page-N        N = 1..SHOP_PAGES; <head><link rel="next" href="page-N+1"> (not on the last);
                        products as <div class="card" data-href="/shop/item-K"> (no <a>)
    /shop/item-K        item pages

A docs site reachable only through its sitemaps::

    /                   the docs' home: no links (its menu would be drawn by a script)
    /robots.txt         Disallow: /docs/private; Sitemap: /sitemaps/index.xml
    /sitemaps/index.xml a sitemap index: /sitemaps/docs-1.xml.gz (gzip, application/gzip), /sitemaps/docs-2.xml
    /sitemaps/docs-*.xml(.gz)  urlsets of /docs/page-K (K = 1..DOCS_PAGES, no links between them),
                        /docs/private (disallowed) and http://elsewhere.example/page (offsite)
    /docs/page-K        item pages

An infinite scroll behind a JSON API::

    /feed/              <button id="more" data-api="/api/items?page=1" data-method="GET">Load more</button>
    /feed-post/         the same button with data-api="/api/items" data-method="POST" (body page=N)
    /api/items?page=N   GET, or POST with the form body page=N: JSON {"items": [{"url": "/feed/item-K"}, ...],
                        "next": {"page": N+1} or null}; FEED_PAGES pages of FEED_PER_PAGE items
    /feed/item-K        item pages
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import Counter
from urllib.parse import parse_qs, urlsplit

from tests.servers.faults import BackgroundServer, QuietHandler

SHOP_PAGES, SHOP_PER_PAGE = 5, 3
DOCS_PAGES = 12
FEED_PAGES, FEED_PER_PAGE = 4, 3


def _item(path: str, n: int) -> dict:
    return {"title": f"{path.split('/')[1]} item {n}", "price": round(10 + n * 1.25, 2)}


ITEMS: dict[str, dict] = {}
ITEMS.update({f"/shop/item-{k}": _item("/shop", k) for k in range(1, SHOP_PAGES * SHOP_PER_PAGE + 1)})
ITEMS.update({f"/docs/page-{k}": _item("/docs", k) for k in range(1, DOCS_PAGES + 1)})
ITEMS.update({f"/feed/item-{k}": _item("/feed", k) for k in range(1, FEED_PAGES * FEED_PER_PAGE + 1)})

_HALF = DOCS_PAGES // 2


def _html(body: str, head: str = "", title: str = "shape") -> bytes:
    return (f"<!DOCTYPE html><html><head><title>{title}</title>{head}</head>"
            f"<body>{body}</body></html>\n").encode()


def _urlset(base: str, paths: list[str]) -> bytes:
    urls = "".join(f"<url><loc>{p if p.startswith('http') else base + p}</loc><lastmod>2026-11-01</lastmod></url>"
                   for p in paths)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>\n').encode()


class _ShapesHandler(QuietHandler):
    server_version = "ShapesServer/1.0"

    def do_GET(self) -> None:  # noqa: N802
        self._answer(b"")

    def do_POST(self) -> None:  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)
        self._answer(self.rfile.read(length))

    def _answer(self, body: bytes) -> None:
        owner: ShapesServer = self.server.owner  # type: ignore[assignment]
        owner.record(self.command, self.path, body)
        base = f"http://{self.headers.get('Host')}"
        parts = urlsplit(self.path)
        path = parts.path
        if path in ITEMS:
            item = ITEMS[path]
            return self._send(200, _html(f'<h1>{item["title"]}</h1><span class="price">{item["price"]}</span>'))
        if path == "/":
            return self._send(200, _html("<h1>Docs</h1><div id=app></div>"))
        if path == "/robots.txt":
            return self._send(200, f"User-agent: *\nDisallow: /docs/private\n\nSitemap: {base}/sitemaps/index.xml\n"
                              .encode(), "text/plain")
        if path.startswith("/shop/page-"):
            n = int(path.removeprefix("/shop/page-"))
            if not 1 <= n <= SHOP_PAGES:
                return self._send(404, b"no such page")
            head = f'<link rel="stylesheet" href="/shop.css"><link rel="Next" href="page-{n + 1}">' \
                if n < SHOP_PAGES else f'<link rel="prev" href="page-{n - 1}">'
            first = (n - 1) * SHOP_PER_PAGE + 1
            cards = "".join(f'<div class="card" data-href="/shop/item-{k}">item {k}</div>'
                            for k in range(first, first + SHOP_PER_PAGE))
            return self._send(200, _html(cards, head))
        if path == "/sitemaps/index.xml":
            index = "".join(f"<sitemap><loc>{base}{p}</loc></sitemap>"
                            for p in ("/sitemaps/docs-1.xml.gz", "/sitemaps/docs-2.xml"))
            return self._send(200, ('<?xml version="1.0" encoding="UTF-8"?>\n<sitemapindex '
                                    f'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{index}</sitemapindex>\n')
                              .encode(), "application/xml")
        if path == "/sitemaps/docs-1.xml.gz":
            pages = [f"/docs/page-{k}" for k in range(1, _HALF + 1)] + ["/docs/private"]
            return self._send(200, gzip.compress(_urlset(base, pages)), "application/gzip")
        if path == "/sitemaps/docs-2.xml":
            pages = [f"/docs/page-{k}" for k in range(_HALF + 1, DOCS_PAGES + 1)] + ["http://elsewhere.example/page"]
            return self._send(200, _urlset(base, pages), "application/xml")
        if path in ("/feed/", "/feed-post/"):
            api, method = ("/api/items?page=1", "GET") if path == "/feed/" else ("/api/items", "POST")
            return self._send(200, _html(f'<ul id="items"></ul><button id="more" data-api="{api}" '
                                         f'data-method="{method}">Load more</button>'))
        if path == "/api/items":
            given = parse_qs(body.decode()) if self.command == "POST" else parse_qs(parts.query)
            try:
                n = int(given.get("page", ["1"])[0])
            except ValueError:
                return self._send(400, b'{"error": "page"}', "application/json")
            if not 1 <= n <= FEED_PAGES:
                return self._send(200, b'{"items": [], "next": null}', "application/json")
            first = (n - 1) * FEED_PER_PAGE + 1
            data = {"items": [{"url": f"/feed/item-{k}"} for k in range(first, first + FEED_PER_PAGE)],
                    "next": {"page": n + 1} if n < FEED_PAGES else None}
            return self._send(200, json.dumps(data).encode(), "application/json")
        return self._send(404, b"not found")



class ShapesServer(BackgroundServer):
    """The three site shapes; see the module docstring for the endpoints."""

    handler_class = _ShapesHandler

    def __init__(self) -> None:
        super().__init__()
        self.hits: Counter[tuple[str, str, bytes]] = Counter()
        self._lock = threading.Lock()

    def record(self, method: str, target: str, body: bytes) -> None:
        with self._lock:
            self.hits[(method, target, body)] += 1

    def targets(self, prefix: str) -> Counter[str]:
        """Requests whose target starts with `prefix`, as 'METHOD target[ body]'."""
        with self._lock:
            return Counter({f"{m} {t}" + (f" {b.decode()}" if b else ""): n
                            for (m, t, b), n in self.hits.items() if t.startswith(prefix)})
