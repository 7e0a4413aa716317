"""The figures of a Scrapy run: Scrapy's stats -> the run's stats -> the crawl totals /metrics reads."""

from __future__ import annotations

import datetime as dt
import logging

import luigi

from pipelines.external.base import as_strings, setting_words
from pipelines.external.child import clean_line, exit_words, line_level
from pipelines.external.scrapy import spider_stats
from pipelines.runs.totals import crawl_counts

RAW = {
    "downloader/response_count": 12, "downloader/response_bytes": 34_000, "downloader/request_count": 13,
    "downloader/response_status_count/200": 10, "downloader/response_status_count/404": 1,
    "downloader/response_status_count/503": 1, "item_scraped_count": 9, "item_dropped_count": 2,
    "log_count/ERROR": 3, "spider_exceptions/ValueError": 2, "spider_exceptions/KeyError": 1,
    "retry/count": 4, "finish_reason": "finished", "elapsed_time_seconds": 1.23456,
    "start_time": str(dt.datetime(2026, 11, 21, 7, 30)),
}


def test_scrapys_stats_become_the_figures_people_read() -> None:
    assert spider_stats(RAW, label="shop") == {
        "engine": "scrapy", "spider": "shop", "pages": 12, "items": 9, "items_dropped": 2, "errors": 3,
        "spider_exceptions": 3, "finish_reason": "finished", "elapsed_s": 1.235, "requests": 13, "bytes": 34_000,
        "retries": 4, "responses_by_status": {"200": 10, "404": 1, "503": 1},
    }


def test_a_run_that_left_no_stats_still_says_what_it_is() -> None:
    assert spider_stats(None, label="shop") == {"engine": "scrapy", "spider": "shop", "finish_reason": None}


def test_a_spider_run_counts_as_its_crawls_fetch_and_parse_whatever_its_family() -> None:
    counts = crawl_counts("MySpiderSubclass", spider_stats(RAW, label="shop"))

    assert counts == {"pages_fetched": 12, "bytes": 34_000, "retries": 4, "responses_2xx": 10, "responses_4xx": 1,
                      "responses_5xx": 1, "items_parsed": 9, "items_dropped": 2, "scrapy_errors": 3,
                      "scrapy_closes_finished": 1, "parse_runs": 1}


def test_finish_reasons_outside_scrapys_words_fold_into_other_and_no_stats_into_none() -> None:
    odd = crawl_counts("ScrapySpider", {**spider_stats(RAW, label="x"), "finish_reason": "my own reason"})
    missing = crawl_counts("ScrapySpider", spider_stats(None, label="x"))

    assert odd["scrapy_closes_other"] == 1
    assert missing == {"scrapy_closes_none": 1}


def test_a_line_keeps_the_level_it_names() -> None:
    assert line_level("2026-11-21 07:30:00 [scrapy.core.scraper] ERROR: Spider error processing") == logging.ERROR
    assert line_level("WARNING: low disk") == logging.WARNING
    assert line_level("[INFO] fetched 3 pages") == logging.INFO
    assert line_level("an ERRORless line about INFOrmation") is None


def test_bytes_become_a_storable_line() -> None:
    assert clean_line(b"caf\xc3\xa9 \xff\x00 end\r\n") == "café \ufffd\ufffd end"


def test_exit_words_name_the_code_or_the_signal() -> None:
    assert exit_words(3) == "exited with code 3"
    assert exit_words(-9) == "was killed by signal 9 (SIGKILL)"
    assert exit_words(143) == "exited with code 143 (128 + SIGTERM)"


def test_nested_settings_and_arguments_reach_the_command_line_as_json() -> None:
    settings = luigi.DictParameter().normalize({"FEEDS": {"out.csv": {"format": "csv"}}, "DOWNLOAD_DELAY": 0.5,
                                                "BOT_NAME": "shop"})

    assert setting_words(settings, "-s") == ["-s", 'FEEDS={"out.csv": {"format": "csv"}}', "-s", "DOWNLOAD_DELAY=0.5",
                                             "-s", "BOT_NAME=shop"]
    assert as_strings(luigi.ListParameter().normalize(["--pages", 3, {"a": [1]}])) == ["--pages", "3", '{"a": [1]}']
