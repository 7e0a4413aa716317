"""ScrapySpider: a Scrapy project's spider, or a spider file, run as one Luigi task per tick.

    python -m luigi --module pipelines.external ScrapySpider \\
        --project examples/scrapy_shop --spider shop --at 2026-11-21T0730 \\
        --args '{"start_url": "http://127.0.0.1:8090/"}' --settings '{"CLOSESPIDER_PAGECOUNT": 500}'

The spider runs as `python -m crawlops_scrapy crawl SPIDER` (a spider file:
`runspider FILE`) in its own process group (child.py), with the same Python
as the worker; Scrapy is the optional extra requirements-scrapy.txt, imported
only by that process. Its items go to `items.jsonl` and its final stats to
`scrapy-stats.json` in the tick's folder (crawlops_scrapy.py). The run's
stats (RunContext stores `run_stats`) are the figures people read and the
metrics count: pages, items, errors, finish_reason, elapsed.

A spider that closes for a reason not in `ok_finish_reasons` (say
`closespider_errorcount`, or `shutdown` after a signal) fails the task, with
its stats recorded: the limits a spider is given on purpose (item, page and
time counts) are normal ends.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

import luigi

from pipelines.external.base import ExternalTask, checked_name, read_json, setting_words
from pipelines.external.exceptions import BadCommand, ScrapyMissing, SpiderNotFinished

SCRAPY_PATH = Path(__file__).with_name("scrapy_path")
ITEMS = "items.jsonl"
STATS = "scrapy-stats.json"
OK_FINISH_REASONS = ("finished", "closespider_itemcount", "closespider_pagecount", "closespider_timeout")
# The stats engine tag: pipelines/runs/totals.py counts run_stats carrying it as a crawl's figures.
ENGINE = "scrapy"


class ScrapySpider(ExternalTask):
    """One tick of a Scrapy spider; complete when its items and stats are in the tick's folder."""

    project = luigi.Parameter(description="A Scrapy project folder (with scrapy.cfg) or a spider file (.py).")
    spider = luigi.Parameter(default="", description="The spider's name (needed for a project).")
    settings = luigi.DictParameter(default={}, description='Scrapy settings, e.g. {"CLOSESPIDER_PAGECOUNT": 100} '
                                                           "(-s; non-strings as JSON).")
    args = luigi.DictParameter(default={}, description='Spider arguments, e.g. {"start_url": "http://..."} (-a).')
    ok_finish_reasons = luigi.ListParameter(default=OK_FINISH_REASONS, significant=False,
                                            description="finish_reason values that count as done; any other "
                                                        "fails the task.")

    @property
    def label(self) -> str:
        if self.name:
            return checked_name(str(self.name), "name")
        if self.spider:
            return checked_name(str(self.spider), "spider")
        return checked_name(Path(str(self.project)).stem, "spider file")

    @property
    def run_crawl(self) -> str | None:
        """The crawl this run counts under in the run record and /metrics: the spider's name."""
        try:
            return self.label
        except BadCommand:
            return None  # the task fails with the sentence when it runs

    def command(self, tmp: Path) -> tuple[list[str], Path, dict[str, str]]:
        if importlib.util.find_spec("scrapy") is None:
            raise ScrapyMissing(f"Scrapy is not installed in {sys.executable}: install the optional extra with "
                                "`pip install -r requirements-scrapy.txt` (docs/external-crawlers.md)")
        target = Path(str(self.project)).absolute()
        if target.is_dir():
            if not (target / "scrapy.cfg").is_file():
                raise BadCommand(f"{target} has no scrapy.cfg: --project names a Scrapy project folder or a "
                                 "spider file (.py)")
            if not self.spider:
                raise BadCommand(f"--spider is needed to run a spider of the project {target}")
            words, cwd = ["crawl", str(self.spider)], target
        elif target.suffix == ".py" and target.is_file():
            words, cwd = ["runspider", str(target)], target.parent
        else:
            raise BadCommand(f"{target} is neither a Scrapy project folder nor a spider file (.py)")
        ours = {"CRAWLOPS_STATS_FILE": str(tmp / STATS), "CRAWLOPS_ITEMS_FILE": str(tmp / ITEMS)}
        argv = [sys.executable, "-m", "crawlops_scrapy", *words, *setting_words(self.settings, "-s"),
                *setting_words(ours, "-s"), *setting_words(self.args, "-a")]
        path = os.pathsep.join(p for p in (str(SCRAPY_PATH), os.environ.get("PYTHONPATH", "")) if p)
        return argv, cwd, {"PYTHONPATH": path}

    def what(self, argv: list[str]) -> str:
        return f"spider {self.label}"

    def collect(self, tmp: Path, outcome: dict[str, Any]) -> dict[str, Any]:
        return {**spider_stats(read_json(tmp / STATS), label=self.label), **outcome}

    def check(self, tmp: Path, stats: dict[str, Any]) -> None:
        reason = stats.get("finish_reason")
        if reason is None:
            raise SpiderNotFinished(f"spider {self.label} exited 0 but wrote no stats: it never closed "
                                    "(did it start? see its log lines)")
        if reason not in tuple(self.ok_finish_reasons):
            raise SpiderNotFinished(
                f"spider {self.label} closed with finish_reason {reason!r} after {stats.get('pages', 0):,} pages, "
                f"{stats.get('items', 0):,} items and {stats.get('errors', 0):,} errors; done means one of "
                f"{', '.join(self.ok_finish_reasons)} (ok_finish_reasons)")
        (tmp / ITEMS).touch()  # a spider with no items (and FEED_STORE_EMPTY off) still has an items file


def spider_stats(raw: Any, label: str) -> dict[str, Any]:
    """Scrapy's stats dict -> the run's stats: the figures people read and /metrics counts."""
    if not isinstance(raw, dict):
        return {"engine": ENGINE, "spider": label, "finish_reason": None}

    def count(key: str) -> int:
        value = raw.get(key, 0)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    by_status = {key.rsplit("/", 1)[1]: count(key) for key in raw
                 if key.startswith("downloader/response_status_count/")}
    exceptions = sum(count(key) for key in raw
                     if key.startswith("spider_exceptions/") and key != "spider_exceptions/count")
    elapsed = raw.get("elapsed_time_seconds")
    return {
        "engine": ENGINE, "spider": label,
        "pages": count("downloader/response_count"),
        "items": count("item_scraped_count"),
        "items_dropped": count("item_dropped_count"),
        "errors": count("log_count/ERROR"),
        "spider_exceptions": exceptions,
        "finish_reason": raw.get("finish_reason"),
        "elapsed_s": round(elapsed, 3) if isinstance(elapsed, int | float) else None,
        "requests": count("downloader/request_count"),
        "bytes": count("downloader/response_bytes"),
        "retries": count("retry/count"),
        "responses_by_status": dict(sorted(by_status.items())),
    }
