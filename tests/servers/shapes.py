"""Site shapes whose pages <a href> alone cannot reach, for the [links] tests.

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

A single-page app whose list only a browser sees::

    /spa/               a plain page: <a href="/spa/app"> and <div id="app" data-render="/spa/app"
                        data-search="/spa/search">
    /spa/app            <ul id="list"></ul>, an empty <h1> and price, and <script src="/spa/app.js">
    /spa/app.js         fills the list with <a href="/spa/item-K"> (K = 1..SPA_ITEMS) and the h1 and price
                        with SPA_PAGE: an HTTP fetch of /spa/app sees none of it
    /spa/search         answers anything; a browser can only GET, so a crawl never sends it the POST
    /spa/item-K         item pages

POST forms whose actions redirect (301, 302, 303, 307, 308)::

    /forms/             one <form method="post" action="/redirect/CODE"> per code, inputs FORM_FIELDS
    /redirect/CODE      a POST of FORM_BODY answered CODE, Location: /redirect/CODE/target
    /redirect/CODE/target  for 307 and 308 only a POST of FORM_BODY (form Content-Type) gets 200,
                        for 301-303 only a GET without a body or Content-Type; anything else a 400
                        saying what came
"""

from __future__ import annotations

import gzip
import json
import threading
from collections import Counter
from urllib.parse import parse_qs, urlencode, urlsplit

from tests.servers.faults import BackgroundServer, QuietHandler

SHOP_PAGES, SHOP_PER_PAGE = 5, 3
DOCS_PAGES = 12
FEED_PAGES, FEED_PER_PAGE = 4, 3
SPA_ITEMS = 4
SPA_PAGE = {"title": "spa catalogue", "price": 9.5}  # drawn by /spa/app.js
FORM_FIELDS = {"q": "green tea", "page": "2"}
FORM_BODY = urlencode(FORM_FIELDS).encode()
REDIRECT_CODES = (301, 302, 303, 307, 308)


def _item(path: str, n: int) -> dict:
    return {"title": f"{path.split('/')[1]} item {n}", "price": round(10 + n * 1.25, 2)}


ITEMS: dict[str, dict] = {}
ITEMS.update({f"/shop/item-{k}": _item("/shop", k) for k in range(1, SHOP_PAGES * SHOP_PER_PAGE + 1)})
ITEMS.update({f"/docs/page-{k}": _item("/docs", k) for k in range(1, DOCS_PAGES + 1)})
ITEMS.update({f"/feed/item-{k}": _item("/feed", k) for k in range(1, FEED_PAGES * FEED_PER_PAGE + 1)})
ITEMS.update({f"/spa/item-{k}": _item("/spa", k) for k in range(1, SPA_ITEMS + 1)})

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
        self._answer(self._body())

    def do_POST(self) -> None:  # noqa: N802
        self._answer(self._body())

    def _body(self) -> bytes:
        """The request body (a GET has none, unless a client sent one where it should not)."""
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

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
        if path.startswith("/spa/"):
            return self._spa(path)
        if path == "/forms/":
            forms = "".join(f'<form method="post" action="/redirect/{code}">'
                            + "".join(f'<input name="{k}" value="{v}">' for k, v in FORM_FIELDS.items())
                            + "</form>" for code in REDIRECT_CODES)
            return self._send(200, _html(forms))
        if path.startswith("/redirect/"):
            return self._redirect(path, body)
        return self._send(404, b"not found")

    def _spa(self, path: str) -> None:
        if path == "/spa/":
            return self._send(200, _html('<a href="/spa/app">Open the app</a>'
                                         '<div id="app" data-render="/spa/app" data-search="/spa/search"></div>'))
        if path == "/spa/app":
            return self._send(200, _html('<h1></h1><span class="price"></span><ul id="list"></ul>',
                                         '<script src="/spa/app.js"></script>'))
        if path == "/spa/app.js":
            script = (f"document.addEventListener('DOMContentLoaded', () => {{\n"
                      f"  document.querySelector('h1').textContent = {json.dumps(SPA_PAGE['title'])};\n"
                      f"  document.querySelector('span.price').textContent = '{SPA_PAGE['price']}';\n"
                      f"  const list = document.getElementById('list');\n"
                      f"  for (let k = 1; k <= {SPA_ITEMS}; k++) {{\n"
                      f"    const a = document.createElement('a');\n"
                      f"    a.href = '/spa/item-' + k; a.textContent = 'item ' + k;\n"
                      f"    list.appendChild(document.createElement('li')).appendChild(a);\n"
                      f"  }}\n}});\n")
            return self._send(200, script.encode(), "application/javascript")
        if path == "/spa/search":
            return self._send(200, _html("<p>results</p>"))
        return self._send(404, b"not found")

    def _redirect(self, path: str, body: bytes) -> None:
        code, _, rest = path.removeprefix("/redirect/").partition("/")
        if not code.isdigit() or int(code) not in REDIRECT_CODES or rest not in ("", "target"):
            return self._send(404, b"not found")
        came = f"{self.command} with body {body!r}, Content-Type {self.headers.get('Content-Type')!r}"
        if not rest:
            if self.command != "POST" or body != FORM_BODY:
                return self._send(400, f"expected a POST of {FORM_BODY!r}, got {came}".encode(), "text/plain")
            return self._send(int(code), b"", headers={"Location": f"/redirect/{code}/target"})
        if int(code) in (307, 308):
            kept = (self.command == "POST" and body == FORM_BODY
                    and self.headers.get("Content-Type") == "application/x-www-form-urlencoded")
        else:
            kept = self.command == "GET" and not body and self.headers.get("Content-Type") is None
        if not kept:
            return self._send(400, f"{code} target: got {came}".encode(), "text/plain")
        return self._send(200, _html(f"<h1>{code} target</h1>"))



class ShapesServer(BackgroundServer):
    """The site shapes; see the module docstring for the endpoints."""

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
