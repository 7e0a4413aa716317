"""The Scrapy side of the real-size bench: bench/realsite/realsite.toml as a Scrapy spider.

Run by run.py in the Scrapy venv (never imported by the product)::

    scrapy runspider spider.py -a start_url=http://127.0.0.1:PORT/ \\
        -a follow='/catalogue/page-\\d+\\.html$' -a item_pages='/product/[a-z0-9-]+-\\d+\\.html$' \\
        -a stats_path=/tmp/x/stats.json -O /tmp/x/items.jsonl

The crawl itself (start URL, following every ``<a href>`` whose absolute URL
matches ``follow`` or ``item_pages``, robots.txt, settings, stats) is
bench/crawl_vs_scrapy's DemoSpider (32 concurrent requests, like the spec);
this one extracts the spec's eleven fields with the spec's selectors,
regexes and types.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

from scrapy.http import Response


def _demo_spider() -> Any:
    # Both files are named spider.py: load the other one under a name of its own.
    path = Path(__file__).resolve().parents[1] / "crawl_vs_scrapy" / "spider.py"
    spec = importlib.util.spec_from_file_location("crawl_vs_scrapy_spider", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


_demo = _demo_spider()
_AVAILABILITY = re.compile(r"(In stock|Out of stock)")
_STOCK = re.compile(r"\((\d+) available\)")
_SPEC_ROW = "//table[@id='specs']//th[text()='{}']/following-sibling::td/text()"
_CATEGORY = "//ol[@class='breadcrumb']/li[last()-1]/a/text()"


def _first_match(pattern: re.Pattern[str], texts: list[str]) -> str | None:
    """The spec's `re`: the first text node that matches, its first group."""
    for text in texts:
        match = pattern.search(text)
        if match:
            return match.group(1)
    return None


def _number(text: str | None) -> float | None:
    match = _demo._NUMBER.search(text or "")
    return float(match.group().replace(",", "")) if match else None


class RealSiteSpider(_demo.DemoSpider):
    name = "realsite"  # DemoSpider's settings: 32 concurrent requests, robots.txt obeyed, timeout 10, 2 retries

    def parse_item(self, response: Response) -> dict[str, Any]:
        clean = _demo._clean
        availability = response.css("p.availability::text").getall()
        stock = _first_match(_STOCK, availability)
        reviews = _number(response.css("span.review-count::text").get())
        return {
            "url": response.url,
            "title": clean(response.css("h1.product-title::text").get()),
            "price": _number(response.css("p.price span.amount::text").get()),
            "availability": _first_match(_AVAILABILITY, availability),
            "stock": int(stock) if stock is not None else 0,
            "tags": [clean(t) for t in response.css("ul.tags li a::text").getall() if t.strip()],
            "upc": clean(response.xpath(_SPEC_ROW.format("UPC")).get()),
            "rating": _number(response.css("div.rating::attr(data-rating)").get()),
            "review_count": int(reviews) if reviews is not None else None,
            "brand": clean(response.xpath(_SPEC_ROW.format("Brand")).get()),
            "category": clean(response.xpath(_CATEGORY).get()),
            "description": clean(response.css("#description p::text").get()),
        }
