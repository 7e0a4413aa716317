"""A spider file (runspider) whose every callback raises: with CLOSESPIDER_ERRORCOUNT it closes early."""

from __future__ import annotations

from typing import Any

import scrapy


class BrokenSpider(scrapy.Spider):
    name = "broken"

    def __init__(self, start_url: str = "", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.start_urls = [start_url]

    def parse(self, response: Any, **kwargs: Any) -> Any:
        raise ValueError(f"cannot read {response.url}")
