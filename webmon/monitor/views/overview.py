"""Overview: a row per crawl, what luigid runs now, recent failures.

The crawls come from our run records; on a history without them (stock Luigi)
(or none yet) the page says so and shows Luigi's newest tasks instead.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webmon.history.models import CrawlRun, TaskRecord
from webmon.history.tasks import TaskFilter
from webmon.monitor import luigid
from webmon.monitor.clock import Clock
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import crawl_rows, has_warnings, mark_warned

MAX_CRAWLS = 200  # rows of the overview (alphabetical); more crawls: use the runs list
NEWEST_RUNS = 60  # per crawl: the last status, and the ticks of the sparkline
RATE_WINDOW = timedelta(days=7)
SUCCESS_WINDOW = timedelta(days=90)  # how far back "last success" looks
FAILURES = 10
LUIGI_TASKS = 10  # newest of Luigi's tasks, shown instead when no crawl has run records


def overview(request: HttpRequest) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    runs = CrawlRun.objects
    names = sources.runs(lambda: runs.crawl_names(MAX_CRAWLS), [])
    newest = sources.runs(lambda: runs.newest_of_each_crawl(names, NEWEST_RUNS), [])
    successes = sources.runs(lambda: runs.last_success_of_each_crawl(names, clock.now - SUCCESS_WINDOW), {})
    # Ticks, not run records: a tick retried until it was done counts once, as done.
    counts = sources.runs(lambda: runs.tick_counts_by_crawl(names, clock.now - RATE_WINDOW, clock.now), {})
    failures = sources.runs(lambda: runs.recent_failures(clock.now - RATE_WINDOW, FAILURES), [])
    luigi_tasks = (
        sources.history(
            lambda: TaskRecord.objects.page(TaskFilter(), size=LUIGI_TASKS, window=LUIGI_TASKS).tasks, []
        )
        if not names
        else []
    )
    running = sources.luigid(luigid.running_tasks, None)
    rows = crawl_rows(names, newest, successes, counts, clock.now, clock.stale_after)
    done_runs = [run_id for row in rows for run_id in row.done_runs]
    if done_runs:  # the stats of at most two runs per crawl: is its newest tick done with warnings?
        stats = sources.runs(lambda: list(runs.filter(id__in=done_runs).values_list("id", "stats")), [])
        mark_warned(rows, {run_id for run_id, text in stats if has_warnings(text)})
    return render(
        request,
        "monitor/overview.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "crawls": rows,
            "max_crawls": MAX_CRAWLS,
            "running": running,
            "failures": failures,
            "no_run_records": sources.no_run_records,
            "luigi_tasks": luigi_tasks,
            "refresh_seconds": 30,
        },
    )
