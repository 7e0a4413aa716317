"""Overview: a row per crawl, worst first, the other schedules, what luigid runs now, recent failures.

The crawls come from our run records and from the RunCrawl schedules (a crawl
scheduled but never run has a row too); on a history without run records
(stock Luigi) and no schedules the page says so and shows Luigi's newest tasks
instead. The schedules are read from webmon's own DB, the rest from the
history DB: either may fail alone (a banner) while the other still shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webmon.history.models import CrawlRun, TaskRecord
from webmon.history.tasks import TaskFilter
from webmon.monitor import luigid
from webmon.monitor.clock import Clock
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import crawl_rows, has_warnings, mark_warned
from webmon.monitor.trouble import GROUPS, ScheduleLine, attach_schedules, by_trouble, group_counts, schedules_of_crawls
from webmon.scheduling.models import Schedule

MAX_CRAWLS = 200  # rows of the overview (alphabetical); more crawls: use the runs list
NEWEST_RUNS = 60  # per crawl: the last status, and the ticks of the sparkline
RATE_WINDOW = timedelta(days=7)
SUCCESS_WINDOW = timedelta(days=90)  # how far back "last success" looks
FAILURES = 10
LUIGI_TASKS = 10  # newest of Luigi's tasks, shown instead when no crawl has run records
MAX_SCHEDULES = 500  # schedules read (by name): every one an operator made, in practice


def schedule_lines(now: datetime) -> list[ScheduleLine]:
    """Every schedule (one query on webmon's DB), as the overview shows it."""
    return [ScheduleLine.of(schedule, now) for schedule in Schedule.objects.all()[:MAX_SCHEDULES]]


def overview(request: HttpRequest) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    runs = CrawlRun.objects
    schedules = sources.webmon(lambda: schedule_lines(clock.now), [])
    crawl_lines = [line for line in schedules if line.is_crawl]
    run_names = sources.runs(lambda: runs.crawl_names(MAX_CRAWLS), [])
    names = sorted(set(run_names) | {line.crawl for line in crawl_lines})
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
    rows = attach_schedules(rows, schedules_of_crawls(crawl_lines))
    others = by_trouble([line for line in schedules if not line.is_crawl], lambda s: s.group, lambda s: s.name)
    totals = group_counts([row.group for row in rows] + [line.group for line in others])
    show = request.GET.get("show", "")
    if show in GROUPS:  # the counts' links: only the rows of one group
        rows = [row for row in rows if row.group == show]
        others = [line for line in others if line.group == show]
    return render(
        request,
        "monitor/overview.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "crawls": rows,
            "max_crawls": MAX_CRAWLS,
            "other_schedules": others,
            "totals": totals,
            "capped": len(run_names) >= MAX_CRAWLS,
            "show": show if show in GROUPS else "",
            "running": running,
            "failures": failures,
            "no_run_records": sources.no_run_records,
            "luigi_tasks": luigi_tasks,
            "refresh_seconds": 30,
        },
    )
