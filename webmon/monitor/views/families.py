"""Task families, like luigid's /tasklist: runs, failures and p50/p95 duration over a recent window."""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webmon.history.models import CrawlRun
from webmon.history.queries import FamilyWindow
from webmon.monitor.clock import Clock
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import family_window_rows

MAX_FAMILIES = 200
WINDOW = timedelta(days=30)
PER_FAMILY = 1000  # newest runs per family within WINDOW


def families(request: HttpRequest) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    names = sources.history(lambda: CrawlRun.objects.family_names(MAX_FAMILIES), [])
    windows = sources.history(
        lambda: CrawlRun.objects.family_window_stats(names, clock.now - WINDOW, PER_FAMILY),
        [FamilyWindow(name, {}, []) for name in names],
    )
    return render(
        request,
        "monitor/families.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "families": family_window_rows(windows, PER_FAMILY),
            "window_days": WINDOW.days,
            "per_family": PER_FAMILY,
        },
    )
