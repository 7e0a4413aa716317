"""A deterministic generated book catalogue, shaped like books.toscrape.com.

Every value is derived from the product id alone, so a crawl of the served site
can be checked field by field against :func:`product` without storing fixtures.
Pages are rendered lazily on request: building a site is O(1), so 100,000
products cost nothing until someone asks for their pages.

Page count of a full, robots-respecting crawl from ``/`` (see :func:`site_pages`)::

    1 (home) + ceil(products / 20) (listings) + products + 1 (JS page)

Layouts: ``v1`` (the default) is the catalogue above. ``v2`` is the same site
after a redesign that breaks a crawl quietly, for the data-quality monitors:
the description moves out of ``#description`` (a spec's selector for it stops
matching) and every even-numbered product is gone (unlisted, its page 404), so
half the products vanish. The server switches between them per request
(``--layout-file``), so one running site can change between two crawl ticks.

Under ``/outlet/`` the same server answers with a second shop (outlet.py):
the same books at other prices, for crawls that compare two sites. Nothing
here links to it, so the count above is unchanged.
"""

from __future__ import annotations

import base64
import html
import json
import math
import random
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

PER_PAGE = 20
CURRENCY = "£"

HOME_PATH = "/"
ROBOTS_PATH = "/robots.txt"
PRIVATE_PATH = "/private/admin.html"
DISCONTINUED_PATH = "/catalogue/discontinued.html"
JS_PATH = "/js/product.html"
FIRST_LISTING_PATH = "/catalogue/page-1.html"

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"

LAYOUTS = ("v1", "v2")

HTML_TYPE = "text/html; charset=utf-8"
TEXT_TYPE = "text/plain; charset=utf-8"

# Fixed vocabularies: changing them changes every generated value, so treat
# them as part of the site's "data set" and only ever append with care.
TAGS: tuple[str, ...] = (
    "fiction", "mystery", "history", "science", "poetry", "travel",
    "romance", "fantasy", "biography", "philosophy", "cooking", "art",
    "music", "horror", "humour", "classics",
)
_ADJECTIVES: tuple[str, ...] = (
    "Silent", "Crimson", "Forgotten", "Hidden", "Golden", "Restless",
    "Northern", "Broken", "Distant", "Naïve", "Wandering", "Electric",
    "Hollow", "Midnight", "Über", "Quiet",
)
# Several nouns need HTML escaping (&, ', ") or are non-ASCII on purpose, so
# every parser in the pipeline is exercised on entities and UTF-8.
_NOUNS: tuple[str, ...] = (
    "Harbour", "Garden", "Cartographer's Daughter", "Salt & Pepper",
    "Fiancée", "Señorita", "Orchard", "Lighthouse", "Rock & Roll",
    "Crème Brûlée", "Engineer's Notebook", "Atlas", "Kingdom",
    'Library of "Lost" Things', "Tide", "Compass",
)
_TOPICS: tuple[str, ...] = (
    "a family of lighthouse keepers", "an unfinished map of the coast",
    "two rival bakers", "a detective who hates puzzles",
    "the last train out of the city", "a garden that blooms at night",
    "a forgotten royal archive", "a café on the edge of the world",
)
_CLOSINGS: tuple[str, ...] = (
    "Readers call it impossible to put down.",
    "A quiet book that stays with you.",
    "Funny, sharp & surprisingly tender.",
    "It's the kind of story you'll want to read twice.",
    "Winner of no prizes, loved by many.",
)

# Odd 64-bit multiplier (golden ratio): multiplication by an odd number is a
# bijection modulo 2**64, which makes UPCs unique per pid by construction.
_UPC_MULTIPLIER = 0x9E3779B97F4A7C15
_UPC_OFFSET = 0x5DEECE66D
_UPC_MASK = (1 << 64) - 1

# A fixed product for the JavaScript page: not in the catalogue, so its values
# can only come from executing the page's script.
JS_PRODUCT: dict[str, Any] = {
    "title": "Rendered by Script: The Éditeur's Guide & Companion",
    "price": 42.5,
    "currency": CURRENCY,
    "availability": "In stock",
    "stock": 7,
    "tags": ["science", "art"],
    "upc": "0a1b2c3d4e5f6071",
    "description": "Only a browser that runs JavaScript can see this product. "
                   "Its fields are inserted into the page at load time.",
}


class Page(NamedTuple):
    """One HTTP answer of the site: a plain tuple so callers may unpack it."""

    status: int
    content_type: str
    body: bytes
    headers: dict[str, str]


def product(pid: int) -> dict[str, Any]:
    """Return the expected field values of catalogue product ``pid`` (1-based).

    The result depends on ``pid`` only (no global state, no hash randomisation),
    so it is identical across processes and Python runs.
    """
    if pid < 1:
        raise ValueError(f"product ids start at 1, got {pid}")
    # Integer seeds give a stable Mersenne Twister state across CPython
    # versions; the salt keeps neighbouring pids' streams unrelated.
    rng = random.Random(pid * 7919 + 104729)
    title = f"The {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} Vol. {pid}"
    price = rng.randint(500, 9999) / 100
    in_stock = rng.random() < 0.8
    stock = rng.randint(1, 30) if in_stock else 0
    tags = rng.sample(TAGS, rng.randint(1, 4))
    description = f"A story about {rng.choice(_TOPICS)}. {rng.choice(_CLOSINGS)}"
    upc = format((pid * _UPC_MULTIPLIER + _UPC_OFFSET) & _UPC_MASK, "016x")
    return {
        "title": title,
        "price": price,
        "currency": CURRENCY,
        "availability": "In stock" if in_stock else "Out of stock",
        "stock": stock,
        "tags": tags,
        "upc": upc,
        "description": description,
    }


def listing_pages(products: int) -> int:
    """Number of ``/catalogue/page-N.html`` listing pages for ``products`` products."""
    return math.ceil(products / PER_PAGE) if products > 0 else 0


def listing_page_of(pid: int) -> int:
    """The listing page number on which product ``pid`` appears."""
    return (pid - 1) // PER_PAGE + 1


def site_pages(products: int) -> int:
    """Pages answering 200 that a robots-respecting crawl from ``/`` reaches.

    home + listings + product pages + the JS page; robots.txt, the
    robots-disallowed admin page and the 404 link are not counted.
    """
    return 1 + listing_pages(products) + products + 1


# Alias under the name used in the design notes and benchmarks.
SITE_PAGES = site_pages


def price_text(price: float) -> str:
    """Format a price the way pages show it, e.g. ``£51.77``."""
    return f"{CURRENCY}{price:.2f}"


def availability_text(item: dict[str, Any]) -> str:
    """Text of the ``p.availability`` element for a product dict."""
    if item["availability"] == "In stock":
        return f"In stock ({item['stock']} available)"
    return "Out of stock"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _document(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_esc(title)}</title>\n</head>\n<body>\n{body}</body>\n</html>\n"
    ).encode()


def _product_markup(item: dict[str, Any], layout: str = "v1") -> str:
    """The product block shared by product pages (and mirrored by the JS page)."""
    description = (f"<div id=\"description\"><p>{_esc(item['description'])}</p></div>\n" if layout == "v1" else
                   f"<section class=\"product-description\"><p>{_esc(item['description'])}</p></section>\n")
    price = _esc(price_text(item["price"]))
    tags = "".join(f"<li>{_esc(tag)}</li>" for tag in item["tags"])
    return (
        "<article class=\"product_page\">\n"
        f"<h1>{_esc(item['title'])}</h1>\n"
        f"<p class=\"price_color\">{price}</p>\n"
        f"<p class=\"availability\">{_esc(availability_text(item))}</p>\n"
        f"<ul class=\"tags\">{tags}</ul>\n"
        "<table class=\"product-info\">"
        f"<tr><th>UPC</th><td>{_esc(item['upc'])}</td></tr>"
        f"<tr><th>Price</th><td>{price}</td></tr></table>\n"
        f"{description}"
        "</article>\n"
    )


# The JS page builds exactly the markup of _product_markup with DOM calls. The
# data is base64 so not even a regex over the raw HTML finds the values.
_JS_TEMPLATE = """(function () {
  "use strict";
  var bytes = Uint8Array.from(atob("%s"), function (c) { return c.charCodeAt(0); });
  var p = JSON.parse(new TextDecoder("utf-8").decode(bytes));
  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    for (var name in attrs) { node.setAttribute(name, attrs[name]); }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }
  var article = el("article", {"class": "product_page"});
  article.appendChild(el("h1", {}, p.title));
  article.appendChild(el("p", {"class": "price_color"}, p.price_text));
  article.appendChild(el("p", {"class": "availability"}, p.availability_text));
  var tags = el("ul", {"class": "tags"});
  p.tags.forEach(function (tag) { tags.appendChild(el("li", {}, tag)); });
  article.appendChild(tags);
  var table = el("table", {"class": "product-info"});
  [["UPC", p.upc], ["Price", p.price_text]].forEach(function (row) {
    var tr = el("tr", {});
    tr.appendChild(el("th", {}, row[0]));
    tr.appendChild(el("td", {}, row[1]));
    table.appendChild(tr);
  });
  article.appendChild(table);
  var description = el("div", {"id": "description"});
  description.appendChild(el("p", {}, p.description));
  article.appendChild(description);
  document.getElementById("app").appendChild(article);
  document.title = p.title + " | Demo Books";
})();
"""


def js_payload(item: dict[str, Any] = JS_PRODUCT) -> str:
    """The base64 JSON blob embedded in the JS page (exposed for tests)."""
    data = dict(item, price_text=price_text(item["price"]),
                availability_text=availability_text(item))
    raw = json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return base64.b64encode(raw).decode("ascii")


_LISTING_RE = re.compile(r"/catalogue/page-([1-9][0-9]{0,8})\.html")
_PRODUCT_RE = re.compile(r"/catalogue/product-([1-9][0-9]{0,8})\.html")


class Site:
    """The demo catalogue of ``products`` products; pages are rendered on demand.

    Only a handful of fixed pages are cached here: the server keeps its own
    bounded cache of full responses, so caching every page twice would only
    cost memory on large sites.
    """

    def __init__(self, products: int, layout: str = "v1") -> None:
        if products < 1:
            raise ValueError(f"a site needs at least one product, got {products}")
        if layout not in LAYOUTS:
            raise ValueError(f"layout is one of {', '.join(LAYOUTS)}, got {layout!r}")
        self.products = products
        self.layout = layout
        self.listings = listing_pages(products)
        self._fixed: dict[str, Page] = {}
        # The second shop (pipelines/demo/outlet.py), which imports this module's generator.
        from pipelines.demo.outlet import PREFIX, Outlet

        self._outlet_prefix = PREFIX
        self.outlet = Outlet(products)

    def __repr__(self) -> str:
        return f"Site(products={self.products}, layout={self.layout!r})"

    def listed(self, pid: int) -> bool:
        """Whether product `pid` is in the catalogue in this layout (v2 dropped the even ones)."""
        return 1 <= pid <= self.products and (self.layout == "v1" or pid % 2 == 1)

    def get(self, path: str) -> Page:
        """Answer ``path`` (query string and fragment ignored) with a :class:`Page`.

        Never returns None: unknown paths get a 404 page, so a server can send
        whatever comes back as is.
        """
        path = path.split("#", 1)[0].split("?", 1)[0]
        if path.startswith(self._outlet_prefix):
            return self.outlet.get(path)
        cached = self._fixed.get(path)
        if cached is not None:
            return cached
        match = _PRODUCT_RE.fullmatch(path)
        if match and self.listed(int(match.group(1))):
            return self._ok(self._product_page(int(match.group(1))))
        match = _LISTING_RE.fullmatch(path)
        if match and int(match.group(1)) <= self.listings:
            return self._ok(self._listing_page(int(match.group(1))))
        fixed = self._render_fixed(path)
        if fixed is None:
            return not_found_page(path)
        self._fixed[path] = fixed
        return fixed

    def paths(self) -> Iterator[str]:
        """Yield every path some page links to, each once, in crawl order.

        Includes the robots-disallowed admin page and the 404 link (they are
        linked from home), but not ``/robots.txt``, which nothing links to.
        """
        yield HOME_PATH
        yield FIRST_LISTING_PATH
        yield PRIVATE_PATH
        yield DISCONTINUED_PATH
        yield JS_PATH
        for n in range(2, self.listings + 1):
            yield f"/catalogue/page-{n}.html"
        for pid in range(1, self.products + 1):
            if self.listed(pid):
                yield f"/catalogue/product-{pid}.html"

    def ok_paths(self) -> Iterator[str]:
        """Yield the paths a robots-respecting crawl fetches with status 200."""
        for path in self.paths():
            if path not in (PRIVATE_PATH, DISCONTINUED_PATH):
                yield path

    @staticmethod
    def _ok(body: bytes, content_type: str = HTML_TYPE,
            headers: dict[str, str] | None = None) -> Page:
        return Page(200, content_type, body, headers or {})

    def _render_fixed(self, path: str) -> Page | None:
        if path == HOME_PATH:
            return self._ok(self._home_page())
        if path == ROBOTS_PATH:
            return self._ok(ROBOTS_TXT.encode("ascii"), TEXT_TYPE)
        if path == JS_PATH:
            return self._ok(self._js_page())
        if path == PRIVATE_PATH:
            # The header tells crawlers that ignored robots.txt not to index it.
            return self._ok(self._private_page(), headers={"X-Robots-Tag": "noindex"})
        return None

    def _home_page(self) -> bytes:
        body = (
            "<h1>Demo Books</h1>\n"
            f"<p class=\"summary\">{self.products} products on "
            f"{self.listings} listing pages.</p>\n<ul class=\"nav\">\n"
            f"<li><a href=\"{FIRST_LISTING_PATH}\">Browse the catalogue</a></li>\n"
            f"<li><a href=\"{JS_PATH}\">Product of the day (needs JavaScript)</a></li>\n"
            f"<li><a href=\"{DISCONTINUED_PATH}\">Discontinued titles</a></li>\n"
            f"<li><a href=\"{PRIVATE_PATH}\">Staff area</a></li>\n</ul>\n"
        )
        return _document("Demo Books", body)

    def _listing_page(self, n: int) -> bytes:
        first = (n - 1) * PER_PAGE + 1
        last = min(n * PER_PAGE, self.products)
        items = []
        for pid in range(first, last + 1):
            if not self.listed(pid):
                continue
            item = product(pid)
            title = _esc(item["title"])
            items.append(
                f"<li><article class=\"product_pod\"><h3><a href=\"product-{pid}.html\" "
                f"title=\"{title}\">{title}</a></h3><p class=\"price_color\">"
                f"{_esc(price_text(item['price']))}</p></article></li>\n"
            )
        pager = []
        if n > 1:
            pager.append(f"<li class=\"previous\"><a href=\"page-{n - 1}.html\">previous</a></li>")
        pager.append(f"<li class=\"current\">Page {n} of {self.listings}</li>")
        if n < self.listings:
            pager.append(f"<li class=\"next\"><a href=\"page-{n + 1}.html\">next</a></li>")
        body = (
            "<nav class=\"breadcrumb\"><a href=\"/\">Home</a></nav>\n"
            f"<h1>All products</h1>\n<ol class=\"row\">\n{''.join(items)}</ol>\n"
            f"<ul class=\"pager\">{''.join(pager)}</ul>\n"
        )
        return _document(f"All products | Page {n} of {self.listings} | Demo Books", body)

    def _product_page(self, pid: int) -> bytes:
        item = product(pid)
        n = listing_page_of(pid)
        body = (
            f"<nav class=\"breadcrumb\"><a href=\"/\">Home</a> / "
            f"<a href=\"page-{n}.html\">Page {n}</a></nav>\n{_product_markup(item, self.layout)}"
        )
        return _document(f"{item['title']} | Demo Books", body)

    def _js_page(self) -> bytes:
        script = _JS_TEMPLATE % js_payload(JS_PRODUCT)
        body = (
            "<nav class=\"breadcrumb\"><a href=\"/\">Home</a></nav>\n"
            "<div id=\"app\"></div>\n"
            "<noscript><p>This page needs JavaScript.</p></noscript>\n"
            f"<script>\n{script}</script>\n"
        )
        return _document("Product of the day | Demo Books", body)

    @staticmethod
    def _private_page() -> bytes:
        body = ("<h1>Staff area</h1>\n<p>Crawlers that honour robots.txt never see this.</p>\n"
                "<p><a href=\"/\">Home</a></p>\n")
        return _document("Staff area | Demo Books", body)


def not_found_page(path: str = "") -> Page:
    """The small HTML 404 page (also used by the server for unknown paths)."""
    body = ("<h1>404 Not Found</h1>\n"
            f"<p>No page at <code>{_esc(path)}</code>.</p>\n<p><a href=\"/\">Home</a></p>\n")
    return Page(404, HTML_TYPE, _document("Not found | Demo Books", body), {})


def build_site(products: int, layout: str = "v1") -> Site:
    """Build (lazily) the demo site with ``products`` products, in `layout`."""
    return Site(products, layout)
