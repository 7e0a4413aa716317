"""The demo site's second shop, "Demo Books Outlet", served under /outlet/.

A second crawlable shop for the cross-crawl workflows (pipelines/workflows/):
the same books as the main catalogue, identified by the same UPC and title,
at other prices and in other markup, so a comparison joins two sites that
were written differently. Like the main catalogue every value is derived from
the product id alone, and :func:`outlet_product` is the ground truth a crawl
of /outlet/ is checked against. Nothing in the main catalogue links here, so
a crawl from ``/`` (and its page counts) does not change.

What the outlet stocks, for a site of ``products`` products:

- every catalogue product except each seventh (pid 7, 14, ...): only in the main shop;
- ``extra_products(products)`` books after the catalogue's last one: only in the outlet.

Pages::

    /outlet/                      home: links to every shelf
    /outlet/shelf-N.html          SHELF_SIZE books each, in pid order
    /outlet/book/<upc>.html       one book (the item page)
"""

from __future__ import annotations

import html
import math
import random
import re
from typing import Any

from pipelines.demo.site import (
    _UPC_MASK,
    _UPC_MULTIPLIER,
    _UPC_OFFSET,
    CURRENCY,
    HTML_TYPE,
    Page,
    not_found_page,
    product,
)

PREFIX = "/outlet/"
SHELF_SIZE = 12
SKIP_EVERY = 7  # pid % 7 == 0: not stocked by the outlet
CONDITIONS: tuple[str, ...] = ("New", "Like new", "Used")
# Price of the outlet in percent of the main shop's; 100 gives some equal prices.
_PERCENTS: tuple[int, ...] = (70, 80, 85, 90, 95, 100, 105, 110, 125)
_UPC_INVERSE = pow(_UPC_MULTIPLIER, -1, 1 << 64)

_SHELF_RE = re.compile(r"/outlet/shelf-([1-9][0-9]{0,8})\.html")
_BOOK_RE = re.compile(r"/outlet/book/([0-9a-f]{16})\.html")


def extra_products(products: int) -> int:
    """Books the outlet sells that the main catalogue of ``products`` does not have."""
    return max(1, products // 10)


def stocked(pid: int, products: int) -> bool:
    """Whether the outlet of a ``products``-product site sells book ``pid``."""
    return 1 <= pid <= products + extra_products(products) and pid % SKIP_EVERY != 0


def outlet_size(products: int) -> int:
    """How many books the outlet of a ``products``-product site sells."""
    last = products + extra_products(products)
    return last - last // SKIP_EVERY


def nth_pid(n: int) -> int:
    """The pid of the outlet's ``n``-th book (0-based): six of every seven pids are stocked."""
    return n + n // (SKIP_EVERY - 1) + 1


def outlet_pids(products: int) -> list[int]:
    """The pids the outlet sells, in shelf order."""
    return [nth_pid(n) for n in range(outlet_size(products))]


def outlet_product(pid: int) -> dict[str, Any]:
    """The expected fields of book ``pid`` in the outlet (demo-b.toml's fields).

    title and upc are the main catalogue's; the price is a fixed percentage
    of the main shop's, rounded to the penny.
    """
    base = product(pid)
    rng = random.Random(pid * 6007 + 15485863)
    percent = rng.choice(_PERCENTS)
    cents = round(base["price"] * 100)
    return {
        "title": base["title"],
        "price": (cents * percent + 50) // 100 / 100,
        "condition": rng.choice(CONDITIONS),
        "upc": base["upc"],
    }


def pid_of_upc(upc: str) -> int:
    """The pid whose UPC this is (the UPC is a bijection of the pid)."""
    return ((int(upc, 16) - _UPC_OFFSET) * _UPC_INVERSE) & _UPC_MASK


def book_path(pid: int) -> str:
    return f"{PREFIX}book/{product(pid)['upc']}.html"


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _document(title: str, body: str) -> bytes:
    return (
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        f"<title>{_esc(title)}</title>\n</head>\n<body class=\"outlet\">\n"
        f"<header><a class=\"brand\" href=\"{PREFIX}\">Demo Books Outlet</a></header>\n{body}</body>\n</html>\n"
    ).encode()


class Outlet:
    """The outlet of a ``products``-product site; pages rendered on request (building it is O(1))."""

    def __init__(self, products: int) -> None:
        self.products = products
        self.size = outlet_size(products)
        self.shelves = math.ceil(self.size / SHELF_SIZE)

    def get(self, path: str) -> Page:
        """Answer a path under /outlet/ (query and fragment already removed)."""
        if path == PREFIX:
            return Page(200, HTML_TYPE, self._home(), {})
        match = _SHELF_RE.fullmatch(path)
        if match and int(match.group(1)) <= self.shelves:
            return Page(200, HTML_TYPE, self._shelf(int(match.group(1))), {})
        match = _BOOK_RE.fullmatch(path)
        if match:
            pid = pid_of_upc(match.group(1))
            if stocked(pid, self.products):
                return Page(200, HTML_TYPE, self._book(pid), {})
        return not_found_page(path)

    def _home(self) -> bytes:
        shelves = "".join(f"<li><a href=\"shelf-{n}.html\">Shelf {n}</a></li>\n" for n in range(1, self.shelves + 1))
        body = (f"<h1>Outlet</h1>\n<p class=\"summary\">{self.size} books on {self.shelves} shelves.</p>\n"
                f"<ul class=\"shelves\">\n{shelves}</ul>\n")
        return _document("Demo Books Outlet", body)

    def _shelf(self, n: int) -> bytes:
        rows = []
        for pid in map(nth_pid, range((n - 1) * SHELF_SIZE, min(n * SHELF_SIZE, self.size))):
            book = outlet_product(pid)
            rows.append(f"<tr><td><a class=\"book\" href=\"{book_path(pid)}\">{_esc(book['title'])}</a></td>"
                        f"<td class=\"amount\">{CURRENCY}{book['price']:.2f}</td></tr>\n")
        body = f"<h1>Shelf {n} of {self.shelves}</h1>\n<table class=\"shelf\">\n{''.join(rows)}</table>\n"
        return _document(f"Shelf {n} | Demo Books Outlet", body)

    def _book(self, pid: int) -> bytes:
        book = outlet_product(pid)
        body = (
            "<div class=\"book-detail\">\n"
            f"<h2 class=\"name\">{_esc(book['title'])}</h2>\n"
            f"<div class=\"offer\"><span class=\"label\">Our price</span> "
            f"<span class=\"amount\" data-currency=\"GBP\">{CURRENCY}{book['price']:.2f}</span></div>\n"
            f"<dl class=\"facts\"><dt>Condition</dt><dd class=\"condition\">{_esc(book['condition'])}</dd>"
            f"<dt>UPC</dt><dd class=\"upc\">{_esc(book['upc'])}</dd></dl>\n"
            "</div>\n"
        )
        return _document(f"{book['title']} | Demo Books Outlet", body)
