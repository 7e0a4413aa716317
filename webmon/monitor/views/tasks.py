"""Luigi's tasks: every `tasks` row newest first (filtered, keyset-paginated), and one task with its events.

Read from Luigi's own tables, so they work on any history luigid wrote; our
run records of the same task_id are linked where they exist.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from webmon.history.models import CrawlRun, TaskEvent, TaskParameter, TaskRecord
from webmon.history.queries import TICK_FIELDS, Cursor
from webmon.history.tasks import TaskPage
from webmon.monitor import luigid
from webmon.monitor.clock import Clock
from webmon.monitor.forms import TaskFilterForm
from webmon.monitor.sources import Sources
from webmon.monitor.views.common import query_with

EVENTS_PAGE = 100  # events of one task per page
MAX_PARAMS = 200
MAX_RECORDS = 20  # other `tasks` rows of the same task_id (other luigid lifetimes)
MAX_RUNS = 50  # run records of the same task_id


def tasks(request: HttpRequest) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    form = TaskFilterForm(request.GET)
    task_filter = form.task_filter()
    before, after = form.cursor()
    page = sources.history(
        lambda: TaskRecord.objects.page(
            task_filter, before=before, after=after, size=settings.WEBMON_PAGE_SIZE,
            window=settings.WEBMON_SCAN_WINDOW,
        ),
        TaskPage([], None, None),
    )
    params = request.GET
    return render(
        request,
        "monitor/tasks.html",
        {
            "clock": clock,
            "banners": sources.banners,
            "form": form,
            "filter": task_filter,
            "page": page,
            "window": settings.WEBMON_SCAN_WINDOW,
            "older_query": query_with(params, before=str(page.older), after=None) if page.older else None,
            "newer_query": query_with(params, after=str(page.newer), before=None) if page.newer else None,
            "newest_query": query_with(params, after=None, before=None),
            "paged": before is not None or after is not None,
        },
    )


def task_detail(request: HttpRequest, pk: int) -> HttpResponse:
    clock, sources = Clock.current(), Sources()
    task = sources.history(lambda: TaskRecord.objects.filter(pk=pk).first(), None)
    if task is None and sources.history_ok:
        raise Http404(_("No task with this id in Luigi's history."))
    context = {"clock": clock, "task": task, "pk": pk}
    if task is not None:
        before = Cursor.decode(request.GET.get("events_before", ""))
        events = sources.history(
            lambda: TaskEvent.objects.of_task(task.id, before=before, n=EVENTS_PAGE + 1), []
        )
        more = len(events) > EVENTS_PAGE
        events = events[:EVENTS_PAGE]
        same_id = task.task_id or ""
        context.update(
            {
                "params": sources.history(lambda: TaskParameter.objects.of_task(task.id, MAX_PARAMS), []),
                "events": events,
                "events_paged": before is not None,
                "events_older_query": query_with(
                    request.GET, events_before=Cursor(events[-1].ts, events[-1].id)
                ) if more else None,
                "events_newest_query": query_with(request.GET, events_before=None),
                "records": sources.history(
                    lambda: list(
                        TaskRecord.objects.filter(task_id=same_id).exclude(pk=task.id).order_by("-id")
                        .with_latest_event().only("id", "host")[:MAX_RECORDS]
                    ),
                    [],
                ) if same_id else [],
                "runs": sources.runs(
                    lambda: list(
                        CrawlRun.objects.filter(task_id=same_id).newest_first().only(*TICK_FIELDS, "attempt", "host")[
                            :MAX_RUNS
                        ]
                    ),
                    [],
                ) if same_id else [],
                "no_run_records": sources.no_run_records,
                "visualiser_url": luigid.visualiser_url(same_id) if same_id else None,
            }
        )
    context["banners"] = sources.banners
    return render(request, "monitor/task.html", context)
