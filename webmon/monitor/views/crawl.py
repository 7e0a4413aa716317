"""Crawl detail: duration trend, 90-day calendar, failures, items stored per run."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from webmon.history.models import CrawlRun
from webmon.history.ticks import group_ticks
from webmon.monitor.charts import bar_chart, calendar
from webmon.monitor.clock import Clock
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import calendar_days, store_rows, tick_durations
from webmon.monitor.templatetags.monitor import human, status_label, time_text

NEWEST_RUNS = 400  # run records read for the trend (about 100 ticks of four tasks)
TREND_TICKS = 100
CALENDAR_DAYS = 90
FAILURES = 20
STORES = 50


def _top_items(n: int) -> str:
    return ngettext("%(n)s item", "%(n)s items", n) % {"n": f"{n:,}"}


def crawl_detail(request: HttpRequest) -> HttpResponse:
    crawl = request.GET.get("name", "")
    if not crawl:
        raise Http404(_("Which crawl? Give its name as ?name=."))
    clock, sources = Clock.current(), Sources()
    since = clock.now - timedelta(days=CALENDAR_DAYS)
    runs = CrawlRun.objects
    newest = sources.runs(lambda: runs.newest_of_crawl(crawl, NEWEST_RUNS), [])
    daily = sources.runs(lambda: runs.daily_counts(crawl, since, clock.now), {})
    failures = sources.runs(lambda: runs.failures_of_crawl(crawl, since, FAILURES), [])
    stores = store_rows(sources.runs(lambda: runs.stores_of_crawl(crawl, STORES), []))

    durations = tick_durations(group_ticks(newest), clock.now, TREND_TICKS)
    trend = bar_chart(
        [
            (
                secs,
                f"bar-{tick.status}",
                _("%(at)s: %(status)s, %(duration)s") % {
                    "at": time_text(tick.started_at, "min"), "status": status_label(tick.status), "duration": human(secs)},
                reverse("monitor:run", args=[tick.newest.id]),
            )
            for tick, secs in durations
        ],
        top_label=human(max((s for _, s in durations), default=0)),
    )
    items = bar_chart(
        [
            (
                row.items or 0,
                "bar-items",
                _("%(at)s: %(items)s items, %(new)s new, %(changed)s changed") % {
                    "at": time_text(row.run.started_at, "min"), "items": row.items, "new": row.new, "changed": row.changed},
                reverse("monitor:run", args=[row.run.id]),
            )
            for row in reversed(stores)
        ],
        top_label=_top_items(max((row.items or 0 for row in stores), default=0)),
    )
    return render(
        request,
        "monitor/crawl.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "crawl": crawl,
            "has_runs": bool(newest),
            "no_run_records": sources.no_run_records,
            "trend": trend,
            "ticks": len(durations),
            "calendar": calendar(calendar_days(daily), clock.now.date(), CALENDAR_DAYS),
            "calendar_days": CALENDAR_DAYS,
            "failures": failures,
            "stores": stores,
            "items": items,
        },
    )
