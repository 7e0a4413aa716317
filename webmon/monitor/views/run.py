"""Run detail: one task attempt with its dependency graph (or its tick's chain), luigid events, stats, error and log."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from webmon.history.models import CrawlRun, CrawlRunLog, TaskEvent
from webmon.history.queries import collector_paused
from webmon.history.runs import json_object
from webmon.monitor import luigid
from webmon.monitor.clock import Clock
from webmon.monitor.forms import LogFilterForm
from webmon.monitor.rungraph import lone_graph, run_graph
from webmon.monitor.runparts import LINE_HEAD, LOG_PAGE, LogView, chain, event_window, log_count_texts
from webmon.monitor.runstats import stat_rows
from webmon.monitor.sources import Sources
from webmon.monitor.summaries import quality_of
from webmon.monitor.views.common import query_with

MAX_ATTEMPTS = 200  # run records of one tick read for the chain and the attempts list
MAX_EVENTS = 200


def run_detail(request: HttpRequest, pk: int) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    run = sources.runs(lambda: CrawlRun.objects.filter(pk=pk).with_log_count().first(), None)
    if run is None and sources.history_ok:  # also a history with no run tables (stock Luigi wrote it)
        raise Http404(_("No run with this id in the history DB."))
    form = LogFilterForm(request.GET)
    context = {"clock": clock, "run": run, "log_form": form, "pk": pk}
    if run is not None:
        attempts = sources.history(lambda: CrawlRun.objects.tick_attempts(run, MAX_ATTEMPTS), [])
        since, until = event_window(run, attempts, clock)
        log = LogView.of(run, *form.values())
        lines = sources.history(
            lambda: CrawlRunLog.objects.viewer(
                run.id, after=log.after, limit=LOG_PAGE + 1, head=LINE_HEAD, levels=log.levels, q=log.q
            ),
            [],
        )
        more = len(lines) > LOG_PAGE
        lines = lines[:LOG_PAGE]
        last_seq = lines[-1].seq if lines else log.after
        tick_chain = chain(attempts, clock)
        quality = quality_of(json_object(run.stats))
        # The recorded (or live) graph; without one, a crawl tick's stage chain, else the task alone.
        with collector_paused():  # up to 1,000 group rows and 200 boxes, freed by refcount
            dag = run_graph(run, sources, clock)
        context.update(
            {
                "chain": tick_chain,
                "dag": dag if dag is not None or tick_chain is not None else lone_graph(run, clock),
                "attempts": [a for a in attempts if a.task_id == run.task_id],
                "events": sources.history(
                    lambda: TaskEvent.objects.timeline(run.task_id, since, until, MAX_EVENTS), []
                ),
                "log": log,
                "lines": lines,
                "log_more_query": query_with(request.GET, after=str(last_seq)) if more else None,
                "log_tail_query": query_with(request.GET, after=str(max(run.log_count - LOG_PAGE, 0))),
                "log_count_texts": log_count_texts(),
                "log_first_query": query_with(request.GET, after="0"),
                "follow_url": (
                    f"{reverse('monitor:run-log-json', args=[run.id])}?{query_with(request.GET, after=str(last_seq))}"
                )
                if run.is_running and not more
                else None,
                "luigid_task": sources.luigid(lambda: _luigid_state(run.task_id), None) if run.is_running else None,
                "visualiser_url": luigid.visualiser_url(run.task_id),
                "quality": quality,
                "stat_rows": stat_rows(run.stats, "quality-section" if quality is not None else ""),
            }
        )
    context["banners"] = sources.banners
    return render(request, "monitor/run.html", context)


def _luigid_state(task_id: str) -> luigid.RunningTask | None:
    # luigid's search matches display names, not task ids: list the running tasks and pick.
    return next((t for t in luigid.running_tasks().tasks if t.task_id == task_id), None)
