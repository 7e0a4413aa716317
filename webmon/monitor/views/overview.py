"""Overview: a row per crawl, what luigid runs now, recent failures."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webmon.history.models import CrawlRun
from webmon.monitor import luigid
from webmon.monitor.clock import Clock
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import crawl_rows

MAX_CRAWLS = 200  # rows of the overview (alphabetical); more crawls: use the runs list
NEWEST_RUNS = 60  # per crawl: the last status, and the ticks of the sparkline
RATE_WINDOW = timedelta(days=7)
SUCCESS_WINDOW = timedelta(days=90)  # how far back "last success" looks
FAILURES = 10


def overview(request: HttpRequest) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    runs = CrawlRun.objects
    names = sources.history(lambda: runs.crawl_names(MAX_CRAWLS), [])
    newest = sources.history(lambda: runs.newest_of_each_crawl(names, NEWEST_RUNS), [])
    successes = sources.history(lambda: runs.last_success_of_each_crawl(names, clock.now - SUCCESS_WINDOW), {})
    counts = sources.history(lambda: runs.status_counts_by_crawl(names, clock.now - RATE_WINDOW), {})
    failures = sources.history(lambda: runs.recent_failures(clock.now - RATE_WINDOW, FAILURES), [])
    running = sources.luigid(luigid.running_tasks, None)
    return render(
        request,
        "monitor/overview.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "crawls": crawl_rows(names, newest, successes, counts, clock.now, clock.stale_after),
            "max_crawls": MAX_CRAWLS,
            "running": running,
            "failures": failures,
            "refresh_seconds": 30,
        },
    )
