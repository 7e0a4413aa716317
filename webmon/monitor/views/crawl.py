"""Crawl detail: duration trend, 90-day calendar, failures, items stored per run, data quality per tick."""

from __future__ import annotations

from datetime import timedelta

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from webmon.history.models import CrawlRun
from webmon.monitor.charts import bar_chart, calendar, coverage_grid
from webmon.monitor.clock import Clock
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import Quality, StoreRow, calendar_days, local_days, store_rows, tick_durations
from webmon.monitor.templatetags.monitor import human, status_label, time_text

TREND_TICKS = 100  # finished ticks, however many attempts each took (RunQuerySet.newest_ticks)
CALENDAR_DAYS = 90
FAILURES = 20
STORES = 50
QUALITY_TICKS = 30  # of the STORES runs read: the newest with a quality report, in the data-quality charts


def _quality_title(when: str, q: Quality) -> str:
    """A data-quality bar's title, built here from the report's numbers (so in the page's language)."""
    values = {"at": when, "items": f"{q.items:,}"}
    change = q.baseline.get("change") if q.baseline else None
    if isinstance(change, (int, float)):
        title = ngettext("%(at)s: %(items)s item, %(change)s against the median of the last ticks",
                         "%(at)s: %(items)s items, %(change)s against the median of the last ticks",
                         q.items) % {**values, "change": f"{change:+.0%}"}
    else:
        title = ngettext("%(at)s: %(items)s item", "%(at)s: %(items)s items", q.items) % values
    if not q.violations:
        return title
    n = len(q.violations)
    broken = ngettext("%(n)d monitor broken (%(verdict)s)", "%(n)d monitors broken (%(verdict)s)", n) % {
        "n": n, "verdict": q.verdict_text}
    return _("%(title)s; %(broken)s") % {"title": title, "broken": broken}


def crawl_detail(request: HttpRequest) -> HttpResponse:
    crawl = request.GET.get("name", "")
    if not crawl:
        raise Http404(_("Which crawl? Give its name as ?name=."))
    clock, sources = Clock.current(), Sources()
    since = clock.now - timedelta(days=CALENDAR_DAYS)
    runs = CrawlRun.objects
    ticks = sources.runs(lambda: runs.newest_ticks(crawl, TREND_TICKS), [])
    days = local_days(clock.now, CALENDAR_DAYS, timezone.get_current_timezone())
    bounds = [(start, end) for _day, start, end in days]
    daily = sources.runs(lambda: runs.tick_counts_in_ranges(crawl, bounds), [{} for _ in days])
    failures = sources.runs(lambda: runs.failures_of_crawl(crawl, since, FAILURES), [])
    stores = store_rows(sources.runs(lambda: runs.stores_of_crawl(crawl, STORES), []))

    durations = tick_durations(ticks, clock.now, TREND_TICKS)
    trend = bar_chart(
        [
            (
                secs,
                f"bar-{tick.status}",
                _("%(at)s: %(status)s, %(duration)s") % {
                    "at": time_text(tick.started_at, "min"), "status": status_label(tick.status), "duration": human(secs)},
                reverse("monitor:run", args=[tick.newest.id]),
                tick.started_at,
            )
            for tick, secs in durations
        ],
        unit="duration",
    )
    items = bar_chart(
        [
            (
                row.items or 0,
                "bar-items",
                _("%(at)s: %(items)s items, %(new)s new, %(changed)s changed") % {
                    "at": time_text(row.run.started_at, "min"), "items": row.items, "new": row.new, "changed": row.changed},
                reverse("monitor:run", args=[row.run.id]),
                row.run.started_at,
            )
            for row in reversed(stores)
        ],
    )
    quality = quality_charts(stores)
    return render(
        request,
        "monitor/crawl.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "crawl": crawl,
            "has_runs": bool(ticks or failures or stores or any(daily)),
            "no_run_records": sources.no_run_records,
            "trend": trend,
            "ticks": len(durations),
            "calendar": calendar(
                calendar_days([(day.isoformat(), counts) for (day, _s, _e), counts in zip(days, daily, strict=True)]),
                days[-1][0],
                CALENDAR_DAYS,
            ),
            "calendar_zone": timezone.get_current_timezone_name(),
            "calendar_days": CALENDAR_DAYS,
            "failures": failures,
            "stores": stores,
            "items": items,
            **quality,
        },
    )


def quality_charts(stores: list[StoreRow]) -> dict[str, object]:
    """The data-quality section: items per tick coloured by verdict, and coverage per field and tick.

    From the StoreItems runs the page reads anyway (their stats hold the reports): no query of its own.
    """
    rows = [row for row in reversed(stores) if row.quality is not None][-QUALITY_TICKS:]
    if not rows:
        return {"quality_ticks": 0}
    fields: list[str] = []
    for row in rows:
        fields += [line.field for line in row.quality.coverage if line.field not in fields]  # type: ignore[union-attr]
    verdict_css = {"ok": "bar-items", "warn": "bar-warn", "fail": "bar-failed"}
    bars = []
    ticks = []
    for row in rows:
        q = row.quality
        assert q is not None
        when = time_text(row.run.started_at, "min")
        href = reverse("monitor:run", args=[row.run.id])
        bars.append((q.items, verdict_css.get(q.verdict, "bar-items"), _quality_title(when, q), href, row.run.started_at))
        ticks.append((when, href, {line.field: line.ratio for line in q.coverage}))
    latest = rows[-1].quality
    return {
        "quality_ticks": len(rows),
        "quality_items": bar_chart(bars, plot_height=90),
        "coverage": coverage_grid(fields, ticks),
        "quality_latest": latest,
        "quality_latest_run": rows[-1].run,
    }
