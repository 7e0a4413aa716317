"""A deterministic static shop of real-sized pages, for benchmarks (never imported by the product).

``write_site(root, products, seed)`` writes, under ``root``:

* ``index.html``: the home page (featured products, a link to the first listing);
* ``catalogue/page-N.html``: listings of ``PER_LISTING`` products each, with
  pagination (first, previous, a window of numbers, next, last);
* ``product/<slug>-<pid>.html``: product pages of 20-30 KB shaped like a
  real shop's: a head with CSS and JS links, meta tags and JSON-LD, a header
  with account and cart links, a navigation menu of about 100 category links,
  a breadcrumb, a sidebar, the product block, description paragraphs, a specs
  table, 5-15 reviews, related products and a footer;
* ``robots.txt``: disallows ``/cart/``, ``/account/`` and the discontinued
  products (``/product/discontinued-...``) that some related-products blocks
  link to: they match the crawl's item-page pattern, so only robots.txt keeps
  a crawler out (they are not written: a crawler that ignores robots.txt gets
  404s, which the bench sees);
* ``truth.jsonl`` (outside the served tree, at ``root/../truth.jsonl`` when
  written by ``write_site``): one line per product, its URL path and every
  field a crawler should extract.

Every value comes from ``random.Random`` seeded with (seed, pid), so the same
seed gives byte-identical sites in any process. Category, account and help
links exist only as links (as on a real site, the crawl does not follow them).

    python bench/realsite/shop.py OUT_DIR --products 10000 [--seed 1]
"""

from __future__ import annotations

import argparse
import functools
import html
import json
import math
import multiprocessing
import random
import sys
import time
import unicodedata
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

PER_LISTING = 50
CURRENCY = "£"
ROBOTS_TXT = ("User-agent: *\nDisallow: /cart/\nDisallow: /account/\nDisallow: /search\n"
              "Disallow: /product/discontinued-\n")
DISCONTINUED_PREFIX = "/product/discontinued-"

# Fixed vocabularies: part of the data set (changing them changes every page).
_DEPARTMENTS: dict[str, tuple[str, ...]] = {
    "Kitchen": ("Cookware", "Knives", "Bakeware", "Coffee & Tea", "Small Appliances", "Storage", "Utensils",
                "Tableware", "Glassware", "Cutlery", "Textiles", "Cleaning"),
    "Garden": ("Tools", "Planters", "Seeds", "Lighting", "Furniture", "Watering", "Barbecue", "Pest Control",
               "Compost", "Greenhouses", "Sheds", "Ponds"),
    "Outdoor": ("Tents", "Backpacks", "Sleeping Bags", "Stoves", "Navigation", "Climbing", "Cycling",
                "Running", "Swimming", "Fishing", "Skiing", "Kayaks"),
    "Home": ("Bedding", "Bath", "Lamps", "Rugs", "Curtains", "Clocks", "Mirrors", "Frames", "Candles",
             "Vases", "Cushions", "Shelving"),
    "Electronics": ("Headphones", "Speakers", "Chargers", "Cables", "Cameras", "Drones", "Radios",
                    "Smart Home", "Wearables", "Keyboards", "Monitors", "Storage Drives"),
    "Workshop": ("Drills", "Saws", "Sanders", "Hand Tools", "Fasteners", "Adhesives", "Measuring",
                 "Safety", "Workbenches", "Paint", "Ladders", "Welding"),
    "Toys": ("Puzzles", "Board Games", "Building Sets", "Dolls", "Model Kits", "Outdoor Play", "Science Kits",
             "Plush", "Card Games", "Trains", "Kites", "Art Sets"),
    "Books": ("Fiction", "Travel", "Cookery", "History", "Science", "Poetry", "Children's", "Comics",
              "Biography", "Crafts", "Languages", "Maps"),
}
_BRANDS: tuple[str, ...] = (
    "Nordvik", "Alder & Finch", "Brightwell", "Kestrel", "Müller & Söhne", "Oakhaven", "Tideline",
    "Ferro", "Lumen", "Caldera", "Hearth & Co", "Pico", "Årstid", "Verde", "Stonebridge", "Quill",
)
_ADJECTIVES: tuple[str, ...] = (
    "Compact", "Heavy-Duty", "Foldable", "Classic", "Ultralight", "Premium", "Everyday", "Rustic",
    "Cordless", "Stainless", "Crème", "Weatherproof", "Modular", "Vintage", "Smart", "Naïve",
)
_NOUNS: tuple[str, ...] = (
    "Kettle", "Lantern", "Toolkit", "Planter", "Daypack", "Skillet", "Headlamp", "Tote", "Grinder",
    "Stool", 'Organiser "Plus"', "Salt & Pepper Set", "Thermos", "Clamp", "Rack", "Hammock",
)
_TAGS: tuple[str, ...] = (
    "bestseller", "new", "eco", "gift", "sale", "limited", "handmade", "durable", "travel", "family",
    "outdoor", "indoor", "compact", "premium", "budget", "award-winner", "recycled", "vegan",
)
_COLOURS: tuple[str, ...] = ("Black", "White", "Slate", "Forest Green", "Ochre", "Navy", "Crimson", "Sand")
_MATERIALS: tuple[str, ...] = ("Stainless steel", "Oak", "Recycled plastic", "Aluminium", "Cotton canvas",
                               "Cast iron", "Bamboo", "Borosilicate glass")
_WORDS: tuple[str, ...] = tuple(
    "the a of and to in is for with on this that it as be at by from our your we you are its not has have "
    "made built designed lasts light strong easy simple quiet handle grip finish surface edge base lid "
    "weekend kitchen garden trail morning evening season weather water heat cold daily use care clean "
    "store carry fold open close fits holds keeps works every small large extra soft firm smooth steady "
    "perfect little better without inside outside around between quality detail comfort balance "
    "café naïve façade crème über".split()
)
_NAMES: tuple[str, ...] = ("Alice", "Bjørn", "Chloé", "Dev", "Eamon", "Farah", "Gintarė", "Hiro", "Inés",
                           "Jonas", "Kasia", "Lars", "Maëlle", "Nikhil", "Olu", "Priya", "Quentin", "Rosa")
_FOOTER = ("About us", "Careers", "Press", "Sustainability", "Affiliates", "Help centre", "Delivery",
           "Returns", "Warranty", "Track my order", "Gift cards", "Store finder", "Contact", "Accessibility",
           "Privacy", "Cookies", "Terms", "Modern slavery statement", "Sitemap", "Blog")
_UPC_MULTIPLIER = 0x9E3779B97F4A7C15  # odd: a bijection modulo 2**64, so UPCs are unique per pid
_UPC_MASK = (1 << 64) - 1


def _slug(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "-".join("".join(c if c.isalnum() else " " for c in ascii_text.lower()).split())


def _rng(seed: int, pid: int) -> random.Random:
    # Integer seeds give the same Mersenne Twister state on every CPython.
    return random.Random(seed * 1_000_003 + pid * 7919 + 104729)


def _sentence(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(rng.choices(_WORDS, k=rng.randint(lo, hi))).capitalize() + "."


def _paragraph(rng: random.Random, sentences: int, lo: int = 8, hi: int = 18) -> str:
    return " ".join(_sentence(rng, lo, hi) for _ in range(sentences))


_CATEGORIES = [(dept, sub) for dept, subs in _DEPARTMENTS.items() for sub in subs]


@functools.lru_cache(maxsize=1 << 17)  # related-product cards ask for the same products again
def product(pid: int, seed: int = 1) -> dict[str, Any]:
    """Every field of product ``pid`` (1-based), as a crawler should extract it, plus page-only data."""
    rng = _rng(seed, pid)
    brand = rng.choice(_BRANDS)
    title = f"{brand} {rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {rng.choice('ABCDEFGHKMNPRSTX')}{pid}"
    dept, sub = rng.choice(_CATEGORIES)
    # About one in eight costs over £1,000, so thousands separators are parsed too.
    price = rng.randint(1000, 99999) / 100 if rng.random() < 0.875 else rng.randint(100000, 450000) / 100
    in_stock = rng.random() < 0.85
    stock = rng.randint(1, 250) if in_stock else 0
    tags = rng.sample(_TAGS, rng.randint(1, 5))
    rating = rng.randint(10, 50) / 10
    shown = rng.randint(5, 15)
    review_count = shown + rng.randint(0, 400)
    return {
        "pid": pid,
        "path": f"/product/{_slug(title)}-{pid}.html",
        "title": title,
        "price": price,
        "availability": "In stock" if in_stock else "Out of stock",
        "stock": stock,
        "tags": tags,
        "upc": format((pid * _UPC_MULTIPLIER + seed) & _UPC_MASK, "016x"),
        "rating": rating,
        "review_count": review_count,
        "brand": brand,
        "category": sub,
        "department": dept,
        # page-only data below: on the page, not in the item
        "shown_reviews": shown,
        "colour": rng.choice(_COLOURS),
        "material": rng.choice(_MATERIALS),
        "weight_g": rng.randint(80, 9000),
        "dims": f"{rng.randint(5, 90)} × {rng.randint(5, 90)} × {rng.randint(2, 60)} cm",
    }


FIELDS = ("title", "price", "availability", "stock", "tags", "upc", "rating", "review_count", "brand",
          "category", "description")


@functools.lru_cache(maxsize=64)  # the page and its truth line, written one after the other
def paragraphs(pid: int, seed: int = 1) -> list[str]:
    """The description's paragraphs (a stream of their own: cards of related products need none)."""
    rng = _rng(seed + 3, pid)
    return [_paragraph(rng, rng.randint(2, 4)) for _ in range(rng.randint(3, 4))]


def truth(pid: int, seed: int = 1) -> dict[str, Any]:
    """The item a crawler should produce for product ``pid``: its URL path and the FIELDS."""
    p = {**product(pid, seed), "description": paragraphs(pid, seed)[0]}
    return {"path": p["path"], **{k: p[k] for k in FIELDS}}


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _price_text(price: float) -> str:
    return f"{CURRENCY}{price:,.2f}"


# -- shared page parts --------------------------------------------------------
def _head(title: str, description: str, canonical: str, extra: str = "") -> str:
    css = "".join(f'\n  <link rel="stylesheet" href="/static/css/{name}.css?v=4.12.{i}">'
                  for i, name in enumerate(("reset", "grid", "typography", "header", "nav", "product",
                                            "reviews", "footer")))
    js = "".join(f'\n  <script src="/static/js/{name}.js?v=4.12.{i}" defer></script>'
                 for i, name in enumerate(("vendor", "analytics", "cart", "search", "carousel", "reviews")))
    return f"""<!DOCTYPE html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>{_e(title)} | Harbour &amp; Hill Outfitters</title>
  <meta name="description" content="{_e(description[:155])}">
  <meta name="robots" content="index, follow">
  <meta property="og:site_name" content="Harbour &amp; Hill Outfitters">
  <meta property="og:title" content="{_e(title)}">
  <meta property="og:type" content="website">
  <meta property="og:url" content="https://www.harbourandhill.example{canonical}">
  <meta property="og:image" content="https://cdn.harbourandhill.example/img{canonical}.jpg">
  <meta name="twitter:card" content="summary_large_image">
  <link rel="canonical" href="https://www.harbourandhill.example{canonical}">
  <link rel="icon" href="/static/img/favicon.ico">
  <link rel="preconnect" href="https://cdn.harbourandhill.example">{css}{js}
  <script>window.dataLayer = window.dataLayer || []; function gtag(){{dataLayer.push(arguments);}}
  gtag('js', new Date()); gtag('config', 'G-HH000000', {{'anonymize_ip': true, 'page_path': '{canonical}'}});</script>{extra}
</head>
"""


def _header() -> str:
    return """<body>
<div class="promo-bar"><p>Free delivery on orders over £50 &middot; 60-day returns &middot;
  <a href="/help/delivery.html">Delivery information</a></p></div>
<header class="site-header">
  <a class="skip" href="#main">Skip to content</a>
  <a class="logo" href="/"><img src="/static/img/logo.svg" alt="Harbour &amp; Hill Outfitters" width="180" height="40"></a>
  <form class="search" action="/search" method="get" role="search">
    <label for="q" class="visually-hidden">Search</label>
    <input id="q" name="q" type="search" placeholder="Search 40,000 products" autocomplete="off">
    <button type="submit">Search</button>
  </form>
  <ul class="account-links">
    <li><a href="/account/login.html">Sign in</a></li>
    <li><a href="/account/register.html">Create an account</a></li>
    <li><a href="/account/wishlist.html">Wish list</a></li>
    <li><a href="/cart/" class="cart-link">Basket <span class="cart-count">0</span></a></li>
  </ul>
</header>
"""


def _nav() -> str:
    # About 100 links: a department heading and 12 sub-categories each, plus a few extras.
    parts = ['<nav class="main-nav" aria-label="Main">\n<ul class="departments">']
    for dept, subs in _DEPARTMENTS.items():
        ds = _slug(dept)
        parts.append(f'  <li class="department"><a href="/category/{ds}/">{_e(dept)}</a>\n    <ul class="sub">')
        parts.extend(f'      <li><a href="/category/{ds}/{_slug(sub)}/">{_e(sub)}</a></li>' for sub in subs)
        parts.append("    </ul>\n  </li>")
    parts.append('  <li class="offers"><a href="/offers/">Offers</a></li>\n'
                 '  <li class="new"><a href="/new-in/">New in</a></li>\n'
                 '  <li class="brands"><a href="/brands/">Brands</a></li>\n</ul>\n</nav>\n')
    return "\n".join(parts)


_NAV = _nav()


def _footer() -> str:
    links = "\n".join(f'      <li><a href="/help/{_slug(t)}.html">{_e(t)}</a></li>' for t in _FOOTER)
    return f"""<footer class="site-footer">
  <div class="newsletter"><h3>Join our newsletter</h3>
    <form action="/newsletter/subscribe" method="post"><input type="email" name="email" placeholder="you@example.com">
    <button type="submit">Sign up</button></form>
    <p class="small">We send one email a week. Unsubscribe at any time. See our <a href="/help/privacy.html">privacy notice</a>.</p>
  </div>
  <div class="footer-links">
    <ul>
{links}
    </ul>
  </div>
  <div class="social"><a href="https://social.example/harbourandhill" rel="noopener">Social</a>
    <a href="https://video.example/harbourandhill" rel="noopener">Video</a></div>
  <p class="legal">&copy; 2026 Harbour &amp; Hill Outfitters Ltd. Registered in England and Wales, company no. 01234567.
  VAT no. GB 123 4567 89. Prices include VAT.</p>
</footer>
<script>document.querySelectorAll('.carousel').forEach(function (el) {{ el.dataset.ready = '1'; }});</script>
</body>
</html>
"""


_FOOTER_HTML = _footer()


def _sidebar(rng: random.Random) -> str:
    facets = "\n".join(
        f'    <li><label><input type="checkbox" name="brand" value="{_slug(b)}"> {_e(b)} '
        f'<span class="count">({rng.randint(3, 900)})</span></label></li>' for b in _BRANDS[:10])
    prices = "\n".join(f'    <li><a href="/search?price={lo}-{hi}" rel="nofollow">{CURRENCY}{lo} to {CURRENCY}{hi}</a></li>'
                       for lo, hi in ((0, 25), (25, 50), (50, 100), (100, 250), (250, 1000)))
    return f"""<aside class="sidebar">
  <h3>Filter by brand</h3>
  <ul class="facets">
{facets}
  </ul>
  <h3>Price</h3>
  <ul class="price-ranges">
{prices}
  </ul>
  <div class="promo"><img src="/static/img/promo-{rng.randint(1, 9)}.jpg" alt="" loading="lazy" width="240" height="320">
  <p>Up to 30 % off selected lines this week only.</p></div>
</aside>
"""


def _card(p: dict[str, Any], css_class: str = "product-card") -> str:
    return (f'<li class="{css_class}"><a href="{p["path"]}"><img src="/static/img/p/{p["pid"]}-s.jpg" alt="" '
            f'loading="lazy" width="160" height="160"></a>\n'
            f'  <h3><a href="{p["path"]}">{_e(p["title"])}</a></h3>\n'
            f'  <p class="card-price">{_price_text(p["price"])}</p>'
            f' <p class="card-rating" data-rating="{p["rating"]:.1f}">{p["rating"]:.1f} / 5</p></li>')


# -- pages ---------------------------------------------------------------------
def render_product(pid: int, products: int, seed: int = 1) -> str:
    p = product(pid, seed)
    texts = paragraphs(pid, seed)
    rng = _rng(seed + 7, pid)  # a stream of its own for page-only decoration
    title, path = p["title"], p["path"]
    jsonld = json.dumps({"@context": "https://schema.org", "@type": "Product", "name": title, "sku": p["upc"],
                         "brand": {"@type": "Brand", "name": p["brand"]},
                         "offers": {"@type": "Offer", "priceCurrency": "GBP", "price": f"{p['price']:.2f}",
                                    "availability": "https://schema.org/" + ("InStock" if p["stock"] else "OutOfStock")},
                         "aggregateRating": {"@type": "AggregateRating", "ratingValue": p["rating"],
                                             "reviewCount": p["review_count"]}}, ensure_ascii=False)
    jsonld = jsonld.replace("</", "<\\/")  # never close the script element early
    head = _head(title, texts[0], path, f'\n  <script type="application/ld+json">{jsonld}</script>')
    ds, ss = _slug(p["department"]), _slug(p["category"])
    stock_text = f'In stock ({p["stock"]} available)' if p["stock"] else "Out of stock"
    tags = "\n".join(f'    <li><a href="/tag/{t}/">{t}</a></li>' for t in p["tags"])
    description = "\n".join(f"    <p>{_e(t)}</p>" for t in texts)
    specs = [("UPC", p["upc"]), ("Brand", p["brand"]), ("Colour", p["colour"]), ("Material", p["material"]),
             ("Weight", f'{p["weight_g"]:,} g'), ("Dimensions", p["dims"]),
             ("Warranty", f"{rng.randint(1, 5)} years"), ("Model year", str(rng.randint(2019, 2026))),
             ("Country of origin", rng.choice(("United Kingdom", "Portugal", "Deutschland", "Sverige", "Italia"))),
             ("Care", _sentence(rng, 5, 10))]
    spec_rows = "\n".join(f"    <tr><th>{_e(k)}</th><td>{_e(v)}</td></tr>" for k, v in specs)
    reviews = []
    for i in range(p["shown_reviews"]):
        stars = rng.randint(1, 5)
        reviews.append(
            f'  <article class="review" id="review-{pid}-{i}">\n'
            f'    <header><span class="stars" aria-label="{stars} out of 5">{"★" * stars}{"☆" * (5 - stars)}</span>\n'
            f'    <h4>{_e(_sentence(rng, 2, 5))}</h4>\n'
            f'    <p class="by">By {_e(rng.choice(_NAMES))} on 2026-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}'
            f' &middot; verified purchase</p></header>\n'
            f'    <p>{_e(_paragraph(rng, rng.randint(1, 2), 4, 10))}</p>\n'
            f'    <footer><button type="button" class="helpful" data-review="{pid}-{i}">Helpful ({rng.randint(0, 60)})</button>'
            f'</footer>\n  </article>')
    related_ids = [rng.randint(1, products) for _ in range(8)]
    related = [_card(product(r, seed), "related-card") for r in related_ids if r != pid]
    if rng.random() < 0.1:  # a discontinued product: matches the item pattern, robots.txt disallows it
        related.append(f'<li class="related-card discontinued"><a href="{DISCONTINUED_PREFIX}{_slug(title)}-{pid}.html">'
                       f'{_e(title)} (previous model)</a></li>')
    related_html = "\n".join(related)
    return f"""{head}{_header()}{_NAV}
<ol class="breadcrumb">
  <li><a href="/">Home</a></li>
  <li><a href="/category/{ds}/">{_e(p["department"])}</a></li>
  <li><a href="/category/{ds}/{ss}/">{_e(p["category"])}</a></li>
  <li class="active">{_e(title)}</li>
</ol>
<div class="page">
{_sidebar(rng)}
<main class="product" itemscope itemtype="https://schema.org/Product">
  <div class="gallery carousel">
    {"".join(f'<img src="/static/img/p/{pid}-{k}.jpg" alt="{_e(title)}, view {k}" loading="lazy" width="600" height="600">' for k in range(1, 5))}
  </div>
  <div class="summary">
    <h1 class="product-title" itemprop="name">{_e(title)}</h1>
    <p class="brand">by <a href="/brands/{_slug(p["brand"])}/">{_e(p["brand"])}</a></p>
    <div class="rating" data-rating="{p["rating"]:.1f}"><span class="stars">{"★" * round(p["rating"])}</span>
      <a href="#reviews"><span class="review-count">{p["review_count"]:,} reviews</span></a></div>
    <p class="price"><span class="amount">{_price_text(p["price"])}</span> <span class="vat">incl. VAT</span></p>
    <p class="availability">{stock_text}</p>
    <form class="add-to-cart" action="/cart/add" method="post"><input type="hidden" name="pid" value="{pid}">
      <label>Quantity <input type="number" name="qty" value="1" min="1" max="{max(1, p["stock"])}"></label>
      <button type="submit"{"" if p["stock"] else " disabled"}>Add to basket</button></form>
    <p class="wishlist"><a href="/account/wishlist.html?add={pid}" rel="nofollow">Add to wish list</a></p>
    <ul class="tags">
{tags}
    </ul>
    <ul class="share">
      <li><a href="https://social.example/share?u=https%3A%2F%2Fwww.harbourandhill.example{path}" rel="noopener">Share</a></li>
      <li><a href="https://pins.example/create?url=https%3A%2F%2Fwww.harbourandhill.example{path}" rel="noopener">Pin it</a></li>
      <li><a href="mailto:?subject={_e(title)}&amp;body=https://www.harbourandhill.example{path}">Email a friend</a></li>
    </ul>
  </div>
  <section id="description">
    <h2>Description</h2>
{description}
  </section>
  <section class="specs">
    <h2>Specifications</h2>
    <table id="specs">
{spec_rows}
    </table>
  </section>
  <section id="reviews">
    <h2>Customer reviews</h2>
{chr(10).join(reviews)}
    <p><a href="/account/login.html?next={path}#write-review" rel="nofollow">Write a review</a></p>
  </section>
  <section class="related">
    <h2>Customers also viewed</h2>
    <ul>
{related_html}
    </ul>
  </section>
</main>
</div>
{_FOOTER_HTML}"""


def listings(products: int) -> int:
    return math.ceil(products / PER_LISTING)


def render_listing(page: int, products: int, seed: int = 1) -> str:
    last = listings(products)
    first_pid = (page - 1) * PER_LISTING + 1
    cards = "\n".join(_card(product(pid, seed)) for pid in range(first_pid, min(products, first_pid + PER_LISTING - 1) + 1))
    numbers = [n for n in range(max(1, page - 3), min(last, page + 3) + 1)]
    pager = ['<li><a href="/catalogue/page-1.html">First</a></li>'] if page > 1 else []
    if page > 1:
        pager.append(f'<li class="previous"><a href="/catalogue/page-{page - 1}.html">Previous</a></li>')
    pager.extend(f'<li{" class=current" if n == page else ""}><a href="/catalogue/page-{n}.html">{n}</a></li>'
                 for n in numbers)
    if page < last:
        pager.append(f'<li class="next"><a href="/catalogue/page-{page + 1}.html">Next</a></li>')
        pager.append(f'<li><a href="/catalogue/page-{last}.html">Last</a></li>')
    rng = _rng(seed + 13, page)
    return f"""{_head(f"All products, page {page} of {last}", "Every product we sell.", f"/catalogue/page-{page}.html")}{_header()}{_NAV}
<ol class="breadcrumb"><li><a href="/">Home</a></li><li class="active">All products</li></ol>
<div class="page">
{_sidebar(rng)}
<main class="listing">
  <h1>All products</h1>
  <p class="result-count">Showing {first_pid}&ndash;{min(products, first_pid + PER_LISTING - 1)} of {products:,} products</p>
  <ul class="product-grid">
{cards}
  </ul>
  <ul class="pager">{"".join(pager)}</ul>
</main>
</div>
{_FOOTER_HTML}"""


def render_home(products: int, seed: int = 1) -> str:
    featured = "\n".join(_card(product(pid, seed)) for pid in range(1, min(products, 12) + 1))
    return f"""{_head("Harbour & Hill Outfitters", "Outdoor, home and kitchen goods.", "/")}{_header()}{_NAV}
<main class="home">
  <h1>Welcome to Harbour &amp; Hill</h1>
  <p><a class="cta" href="/catalogue/page-1.html">Browse all {products:,} products</a></p>
  <h2>Featured</h2>
  <ul class="product-grid">
{featured}
  </ul>
</main>
{_FOOTER_HTML}"""


def crawl_pages(products: int) -> int:
    """Pages a crawl from / that follows listings and products fetches (robots.txt not counted)."""
    return 1 + listings(products) + products


def iter_site(products: int, seed: int = 1, pages_only: bool = False) -> Iterator[tuple[str, str]]:
    """(path relative to the document root, content) of every served file (``pages_only``: no products)."""
    yield "robots.txt", ROBOTS_TXT
    yield "index.html", render_home(products, seed)
    for page in range(1, listings(products) + 1):
        yield f"catalogue/page-{page}.html", render_listing(page, products, seed)
    if pages_only:
        return
    for pid in range(1, products + 1):
        yield product(pid, seed)["path"].lstrip("/"), render_product(pid, products, seed)


def _write_products(www: Path, first: int, last: int, products: int, seed: int) -> tuple[list[str], list[int]]:
    """Write product pages first..last; their truth lines and page sizes, in pid order."""
    lines, sizes = [], []
    for pid in range(first, last + 1):
        data = render_product(pid, products, seed).encode("utf-8")
        item = truth(pid, seed)
        (www / item["path"].lstrip("/")).write_bytes(data)
        sizes.append(len(data))
        lines.append(json.dumps(item, ensure_ascii=False) + "\n")
    return lines, sizes


def write_site(root: Path, products: int, seed: int = 1, jobs: int = 2) -> dict[str, Any]:
    """Write the site under ``root / "www"`` and its truth to ``root / "truth.jsonl"``; size facts.

    ``jobs`` processes write the product pages (each a contiguous range of pids).
    """
    www = root / "www"
    for sub in ("catalogue", "product"):
        (www / sub).mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    for rel, content in iter_site(products, seed, pages_only=True):
        (www / rel).write_bytes(content.encode("utf-8"))
    step = math.ceil(products / max(1, jobs))
    ranges = [(first, min(products, first + step - 1)) for first in range(1, products + 1, step)]
    sizes: list[int] = []
    with ProcessPoolExecutor(max_workers=len(ranges), mp_context=multiprocessing.get_context("fork")) as pool, \
            open(root / "truth.jsonl", "w", encoding="utf-8") as out:
        for lines, part_sizes in pool.map(_write_products, *zip(*[(www, a, b, products, seed) for a, b in ranges], strict=True)):
            out.writelines(lines)
            sizes.extend(part_sizes)
    sizes.sort()
    return {"products": products, "seed": seed, "pages": crawl_pages(products), "www": str(www),
            "truth": str(root / "truth.jsonl"),
            "product_bytes_min": sizes[0], "product_bytes_median": sizes[len(sizes) // 2],
            "product_bytes_max": sizes[-1], "product_bytes_mean": round(sum(sizes) / len(sizes)),
            "generate_s": round(time.monotonic() - started, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--products", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--jobs", type=int, default=2, help="processes writing product pages (default 2)")
    args = parser.parse_args(argv)
    print(json.dumps(write_site(args.out, args.products, args.seed, args.jobs), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
