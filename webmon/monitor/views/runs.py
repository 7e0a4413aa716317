"""Runs: every task attempt, newest first, filtered, keyset-paginated; or grouped by tick (`group=tick`)."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webmon.history.models import CrawlRun
from webmon.history.queries import Cursor, RunFilter, RunPage, TickPage
from webmon.monitor.clock import Clock
from webmon.monitor.forms import RunFilterForm
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import tick_rows
from webmon.monitor.views.common import query_with

MAX_NAMES = 500  # crawls and families offered in the filter's lists


def runs(request: HttpRequest) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    form = RunFilterForm(request.GET)
    run_filter = form.run_filter()
    before = Cursor.decode(request.GET.get("before", ""))
    after = Cursor.decode(request.GET.get("after", ""))
    crawls = sources.runs(lambda: CrawlRun.objects.crawl_names(MAX_NAMES), [])
    families = sources.runs(lambda: CrawlRun.objects.family_names(MAX_NAMES), [])
    params = request.GET
    if params.get("group") == "tick":
        return _by_tick(request, clock, sources, form, run_filter, before, crawls, families)
    page = sources.runs(
        lambda: CrawlRun.objects.page(
            run_filter, before=before, after=after, size=settings.WEBMON_PAGE_SIZE, window=settings.WEBMON_SCAN_WINDOW
        ),
        RunPage([], None, None),
    )
    return render(
        request,
        "monitor/runs.html",
        {
            **_shared(clock, sources, form, run_filter, crawls, families),
            "page": page,
            "older_query": query_with(params, before=page.older, after=None) if page.older else None,
            "newer_query": query_with(params, after=page.newer, before=None) if page.newer else None,
            "newest_query": query_with(params, after=None, before=None),
            "ticks_query": query_with(params, group="tick", after=None, before=None),
            "paged": before is not None or after is not None,
        },
    )


def _shared(clock: Clock, sources: Sources, form: RunFilterForm, run_filter: RunFilter, crawls: list[str],
            families: list[str]) -> dict[str, object]:
    """What both views of the runs list show: the filter, its choices, the banners."""
    return {"clock": clock, "banners": sources.banners, "form": form, "filter": run_filter, "crawls": crawls,
            "families": families, "window": settings.WEBMON_SCAN_WINDOW, "no_run_records": sources.no_run_records}


def _by_tick(request: HttpRequest, clock: Clock, sources: Sources, form: RunFilterForm, run_filter: RunFilter,
             before: Cursor | None, crawls: list[str], families: list[str]) -> HttpResponse:
    """One row per tick (crawl, logical time, status, stages and their attempts), keyset on its newest run."""
    page = sources.runs(
        lambda: CrawlRun.objects.tick_page(
            run_filter, before=before, size=settings.WEBMON_PAGE_SIZE, window=settings.WEBMON_SCAN_WINDOW
        ),
        TickPage([], {}, None),
    )
    params = request.GET
    return render(
        request,
        "monitor/runs.html",
        {
            **_shared(clock, sources, form, run_filter, crawls, families),
            "by_tick": True,
            "tick_rows": tick_rows(page.ticks, page.heads, clock.now, clock.stale_after),
            "page": page,
            "older_query": query_with(params, before=page.older, after=None) if page.older else None,
            "newest_query": query_with(params, after=None, before=None),
            "runs_query": query_with(params, group=None, after=None, before=None),
            "paged": before is not None,
        },
    )
