"""crawlops inside a Scrapy process: the stats file, the items feed, the log on stderr.

A top-level module in a folder of its own (pipelines/external/scrapy_path/),
which ScrapySpider puts first on the spider's PYTHONPATH: the spider process
imports Scrapy and this file, nothing else of crawlops.

ScrapySpider runs `python -m crawlops_scrapy crawl SPIDER ...` (or
`runspider FILE`): Scrapy's own command line, with the `Crawlops` add-on added
to the project's ADDONS. Add-ons run after the project's, the spider's
(custom_settings) and the command line's settings are in place, so the
add-on adds to EXTENSIONS and FEEDS instead of replacing what the project
set there. Settings it reads (ScrapySpider sets them with -s):

- CRAWLOPS_STATS_FILE: `StatsFile` writes the final stats there as JSON when
  the spider closes (written to a temporary name and renamed: whole or absent);
- CRAWLOPS_ITEMS_FILE: the items as JSON lines (a FEEDS entry, UTF-8).

Every run logs to stderr (LOG_FILE is cleared, LOG_STDOUT off), where the task
reads it line by line; the telnet console is off unless the task's settings
turn it on.

A project of your own can also enable the extension alone:
`EXTENSIONS = {"crawlops_scrapy.StatsFile": 0}` and `CRAWLOPS_STATS_FILE = ...`.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured


class StatsFile:
    """Extension: the crawler's stats as a JSON object in CRAWLOPS_STATS_FILE when the spider closes."""

    def __init__(self, crawler: Any, path: str) -> None:
        self.crawler = crawler
        self.path = Path(path)

    @classmethod
    def from_crawler(cls, crawler: Any) -> StatsFile:
        path = crawler.settings.get("CRAWLOPS_STATS_FILE")
        if not path:
            raise NotConfigured("CRAWLOPS_STATS_FILE is not set")
        extension = cls(crawler, path)
        crawler.signals.connect(extension.spider_closed, signal=signals.spider_closed)
        return extension

    def spider_closed(self, spider: Any, reason: str) -> None:
        stats = dict(self.crawler.stats.get_stats())
        # CoreStats sets these in its own spider_closed handler, which may run after this one.
        stats.setdefault("finish_reason", reason)
        started = stats.get("start_time")
        if "elapsed_time_seconds" not in stats and isinstance(started, dt.datetime):
            now = dt.datetime.now(started.tzinfo) if started.tzinfo else dt.datetime.now()
            stats["elapsed_time_seconds"] = (now - started).total_seconds()
        stats["spider"] = spider.name
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps(stats, sort_keys=True, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.path)


class Crawlops:
    """Add-on: StatsFile in EXTENSIONS and the items feed in FEEDS, beside what the project set."""

    def update_settings(self, settings: Any) -> None:
        settings.set_in_component_priority_dict("EXTENSIONS", StatsFile, 0)
        items = settings.get("CRAWLOPS_ITEMS_FILE")
        if items:
            feeds = settings.getdict("FEEDS")
            feeds[Path(items).as_uri()] = {"format": "jsonlines", "encoding": "utf-8", "overwrite": True,
                                           "store_empty": True}
            settings.set("FEEDS", feeds, settings.getpriority("FEEDS") or 0)


def main(argv: list[str]) -> None:
    from scrapy.cmdline import execute  # noqa: PLC0415
    from scrapy.utils.project import get_project_settings  # noqa: PLC0415

    settings = get_project_settings()
    settings.set_in_component_priority_dict("ADDONS", Crawlops, 0)
    # The task reads stderr: a LOG_FILE of the project would hide the log from the run record.
    settings.set("LOG_FILE", None, priority="cmdline")
    settings.set("LOG_STDOUT", False, priority="cmdline")
    settings.set("TELNETCONSOLE_ENABLED", False, priority="project")
    execute(["scrapy", *argv], settings)


if __name__ == "__main__":
    main(sys.argv[1:])
