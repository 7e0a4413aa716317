"""The Scrapy side of the benchmark: pipelines/crawls/demo.toml as a Scrapy spider.

Run by run.py in the Scrapy venv (never imported by the product)::

    scrapy runspider spider.py -a start_url=http://127.0.0.1:PORT/ \\
        -a follow='/catalogue/page-\\d+\\.html$' -a item_pages='/catalogue/product-\\d+\\.html$' \\
        -a stats_path=/tmp/x/stats.json -O /tmp/x/items.jsonl

It follows exactly the links the demo spec follows (every ``<a href>`` whose
absolute URL matches ``follow`` or ``item_pages``, within ``allowed_domains``)
and extracts the spec's fields with the spec's selectors and types. Scrapy's
stats are written to ``stats_path`` when the spider closes.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response

_NUMBER = re.compile(r"[-+]?(?:\d[\d,.]*\d|\d)")
_AVAILABILITY = re.compile(r"(In stock|Out of stock)")
_STOCK = re.compile(r"\((\d+) available\)")
_WS = re.compile(r"\s+")
_UPC = "//table[@class='product-info']//th[text()='UPC']/following-sibling::td/text()"


def _clean(text: str | None) -> str | None:
    return None if text is None else _WS.sub(" ", text).strip()


def _search(pattern: re.Pattern[str], text: str | None) -> str | None:
    match = pattern.search(text or "")
    return match.group(1) if match else None


class DemoSpider(scrapy.Spider):
    name = "demo"
    allowed_domains = ["127.0.0.1"]
    custom_settings = {
        "CONCURRENT_REQUESTS": 32,
        "CONCURRENT_REQUESTS_PER_DOMAIN": 32,
        "ROBOTSTXT_OBEY": True,
        "REMOTE_CONTROL_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,  # no debug port either: nothing but the crawl
        "AUTOTHROTTLE_ENABLED": False,
        "LOG_LEVEL": "INFO",
        # The demo spec's [fetch] table: timeout = 10, retries = 2.
        "DOWNLOAD_TIMEOUT": 10,
        "RETRY_TIMES": 2,
    }

    def __init__(self, start_url: str, follow: str, item_pages: str, stats_path: str,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start_url]
        self.follow_re = re.compile(follow)
        self.item_re = re.compile(item_pages)
        self.stats_path = stats_path

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if self.item_re.search(response.url):
            yield self.parse_item(response)
        for href in response.xpath("//a/@href").getall():
            url = response.urljoin(href.strip())
            if self.follow_re.search(url) or self.item_re.search(url):
                yield scrapy.Request(url, callback=self.parse)

    def parse_item(self, response: Response) -> dict[str, Any]:
        availability = response.css("p.availability::text").get()
        price = _NUMBER.search(response.css("p.price_color::text").get() or "")
        stock = _search(_STOCK, availability)
        return {
            "url": response.url,
            "title": _clean(response.css("h1::text").get()),
            "price": float(price.group().replace(",", "")) if price else None,
            "availability": _search(_AVAILABILITY, availability),
            "stock": int(stock) if stock is not None else 0,
            "tags": [_clean(t) for t in response.css("ul.tags li::text").getall() if t.strip()],
            "upc": _clean(response.xpath(_UPC).get()),
            "description": _clean(response.css("#description p::text").get()),
        }

    def closed(self, reason: str) -> None:
        stats = self.crawler.stats.get_stats() if self.crawler.stats else {}
        with open(self.stats_path, "w", encoding="utf-8") as fh:
            json.dump({"reason": reason, **stats}, fh, default=str, indent=2, sort_keys=True)
