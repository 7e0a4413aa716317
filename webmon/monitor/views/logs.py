"""A run's log beyond its page: lines after N as JSON (live tail), one full line, the whole log as text."""

from __future__ import annotations

from collections.abc import Iterator

from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from webmon.history.models import CrawlRun, CrawlRunLog
from webmon.history.runs import levels_at_least
from webmon.monitor.clock import Clock
from webmon.monitor.forms import LogFilterForm
from webmon.monitor.runparts import LINE_HEAD, LOG_PAGE, LogView
from webmon.monitor.sources import Sources, short_reason
from webmon.monitor.templatetags.monitor import status_label


def log_after(request: HttpRequest, pk: int) -> JsonResponse:
    """Lines after ?after=N (level and q as on the page), and whether the run still runs."""
    clock, sources = Clock.current(), Sources()
    run = sources.runs(
        lambda: CrawlRun.objects.filter(pk=pk).only("id", "status", "heartbeat_at", "log_lines").with_log_count().first(),
        None,
    )
    if run is None and sources.history_ok:
        raise Http404(_("No run with this id in the history DB."))
    level, q, after = LogFilterForm(request.GET).values()
    log = LogView(level, q, after or 0, levels_at_least(level) if level else None)
    lines = sources.runs(
        lambda: CrawlRunLog.objects.viewer(
            pk, after=log.after, limit=LOG_PAGE + 1, head=LINE_HEAD, levels=log.levels, q=log.q
        ),
        [],
    )
    if not sources.history_ok:
        return JsonResponse({"error": sources.banners[0].text, "lines": [], "running": True}, status=503)
    more = len(lines) > LOG_PAGE
    lines = lines[:LOG_PAGE]
    return JsonResponse(
        {
            "run": pk,
            "status": run.display_status(clock.now, clock.stale_after),
            "status_label": status_label(run.display_status(clock.now, clock.stale_after)),
            "running": run.is_running,
            "log_lines": run.log_count,  # every line of the run, whatever the filter
            "after": lines[-1].seq if lines else log.after,
            "more": more,
            "lines": [
                {
                    "seq": line.seq,
                    "ts": line.ts.isoformat(),
                    "time": timezone.localtime(line.ts).strftime("%H:%M:%S.%f")[:12],  # as the page shows it
                    "level": line.level,
                    "logger": line.logger,
                    "message": line.head,
                    "cut": line.is_cut,
                    "full_url": reverse("monitor:run-log-line", args=[pk, line.seq]) if line.is_cut else None,
                }
                for line in lines
            ],
        }
    )


def log_line(request: HttpRequest, pk: int, seq: int) -> HttpResponse:
    """One whole line as text (the page shows only its head)."""
    sources = Sources()
    message = sources.runs(lambda: CrawlRunLog.objects.line(pk, seq), None)
    if not sources.history_ok:
        return HttpResponse(sources.banners[0].text, status=503, content_type="text/plain; charset=utf-8")
    if message is None:
        raise Http404(_("No such log line."))
    return HttpResponse(message, content_type="text/plain; charset=utf-8")


def log_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The run's whole log as a text file, streamed a few hundred lines per query."""
    sources = Sources()
    exists = sources.runs(lambda: CrawlRun.objects.filter(pk=pk).exists(), False)
    if not sources.history_ok:
        return HttpResponse(sources.banners[0].text, status=503, content_type="text/plain; charset=utf-8")
    if not exists:
        raise Http404(_("No run with this id in the history DB."))
    response = StreamingHttpResponse(_lines(pk), content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="run-{pk}.log"'
    return response


def _lines(pk: int) -> Iterator[str]:
    try:
        yield from CrawlRunLog.objects.text(pk)
    except DatabaseError as exc:  # the headers are sent: say so in the file itself
        yield _("[log cut short: the task-history database could not be read: %(reason)s]") % {"reason": short_reason(exc)} + "\n"
