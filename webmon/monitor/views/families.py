"""Task families, like luigid's /tasklist: every family in Luigi's tasks, with its run-record figures where present.

Luigi's side (any history): tasks counted up to a cap and the newest task
with its latest event. Run records' side (where our tables exist): runs,
failures and p50/p95 duration over a recent window.
"""

from __future__ import annotations

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from webmon.history.models import CrawlRun, TaskRecord
from webmon.monitor.clock import Clock
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import family_lines

MAX_FAMILIES = 200
WINDOW = timedelta(days=30)
PER_FAMILY = 1000  # newest runs per family within WINDOW
TASK_CAP = 1000  # Luigi's tasks counted per family


def families(request: HttpRequest) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    luigi_names = sources.history(lambda: TaskRecord.objects.family_names(MAX_FAMILIES), [])
    run_names = sources.runs(lambda: CrawlRun.objects.family_names(MAX_FAMILIES), [])
    names = sorted(set(luigi_names) | set(run_names))[:MAX_FAMILIES]
    luigi = sources.history(lambda: TaskRecord.objects.families(names, TASK_CAP), [])
    windows = sources.runs(
        lambda: CrawlRun.objects.family_window_stats(run_names, clock.now - WINDOW, PER_FAMILY) if run_names else [],
        [],
    )
    return render(
        request,
        "monitor/families.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "families": family_lines(names, luigi, windows, PER_FAMILY, TASK_CAP),
            "no_run_records": sources.no_run_records,
            "window_days": WINDOW.days,
            "per_family": PER_FAMILY,
            "task_cap": TASK_CAP,
        },
    )
