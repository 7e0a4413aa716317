"""The demo catalogue (pipelines/demo/, `./scheduler.sh up` serves it) as a Scrapy spider.

    scrapy crawl shop -a start_url=http://127.0.0.1:8090/

Follows the listing pages and the product pages, as pipelines/crawls/demo.toml
does, and yields one item per product with the demo spec's fields. Without
start_url it crawls the demo site on DEMO_SITE_PORT (8090).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from typing import Any

import scrapy
from scrapy.http import Response

LISTING = re.compile(r"/catalogue/page-\d+\.html$")
PRODUCT = re.compile(r"/catalogue/product-\d+\.html$")
_PRICE = re.compile(r"\d+(?:\.\d+)?")
_STOCK = re.compile(r"\((\d+) available\)")
_UPC = "//table[@class='product-info']//th[text()='UPC']/following-sibling::td/text()"


class ShopSpider(scrapy.Spider):
    name = "shop"
    allowed_domains = ["127.0.0.1", "localhost"]

    def __init__(self, start_url: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        port = os.environ.get("DEMO_SITE_PORT", "8090")
        self.start_urls = [start_url or f"http://127.0.0.1:{port}/"]

    def parse(self, response: Response, **kwargs: Any) -> Iterator[Any]:
        if PRODUCT.search(response.url):
            yield self.product(response)
            return
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            if LISTING.search(url) or PRODUCT.search(url):
                yield scrapy.Request(url, callback=self.parse)

    def product(self, response: Response) -> dict[str, Any]:
        availability = response.css("p.availability::text").get(default="").strip()
        price = _PRICE.search(response.css("p.price_color::text").get(default=""))
        stock = _STOCK.search(availability)
        return {
            "url": response.url,
            "title": response.css("h1::text").get(default="").strip(),
            "price": float(price.group()) if price else None,
            "availability": "In stock" if availability.startswith("In stock") else "Out of stock",
            "stock": int(stock.group(1)) if stock else 0,
            "tags": [t.strip() for t in response.css("ul.tags li::text").getall()],
            "upc": (response.xpath(_UPC).get() or "").strip(),
            "description": response.css("#description p::text").get(default="").strip(),
        }
