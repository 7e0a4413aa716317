"""The schedule pages and their actions: thin views (query, context, render / redirect).

Pages need a login (LoginRequiredMiddleware). Actions are POST with the CSRF
token and need the permission `scheduling.change_schedule` (403 otherwise);
they say what they did in a message and go back to the page they came from.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.db.models import OuterRef, Q, Subquery
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_POST, require_safe

from webmon.monitor.clock import Clock
from webmon.monitor.templatetags.monitor import STATE_BADGE, time_text
from webmon.scheduling import states
from webmon.scheduling.forms import BackfillForm, TriggerForm, this_minute
from webmon.scheduling.models import Schedule, ScheduledRun

RECENT_RUNS = 5  # status dots per schedule on the list
RUNS_PAGE = 50
EVENTS = 50
CHANGE = "scheduling.change_schedule"

RUN_DOT = {
    ScheduledRun.SUCCESS: "day-ok",
    ScheduledRun.FAILED: "day-failed",
    ScheduledRun.TIMED_OUT: "day-failed",
    ScheduledRun.RUNNING: "day-running",
    ScheduledRun.SKIPPED: "day-mixed",
}  # monitor.css day-*


@dataclass(frozen=True)
class RunRow:
    run: ScheduledRun
    dot: str
    duration: timedelta | None

    @classmethod
    def of(cls, run: ScheduledRun, now: datetime) -> RunRow:
        end = run.finished_at or (now if run.state == ScheduledRun.RUNNING else None)
        return cls(run, RUN_DOT.get(run.state, "day-none"), end - run.started_at if run.started_at and end else None)


@dataclass(frozen=True)
class ScheduleRow:
    schedule: Schedule
    badge: str
    next_run: datetime | None
    recent: list[RunRow]


def cadence_text(schedule: Schedule) -> str:
    if schedule.cron.strip():
        return f"{schedule.cron.strip()} ({schedule.timezone})"
    return _("every %(n)s s") % {"n": schedule.interval_seconds} if schedule.interval_seconds else "—"


def parameters_text(schedule: Schedule) -> str:
    """What a run of the schedule gets besides its tick, as JSON: a crawl's spec overrides, another task's parameters."""
    if schedule.is_crawl:
        return schedule.params_json() if schedule.params else "—"
    return schedule.task_params_json() if schedule.task_params else "—"


def task_facts(schedule: Schedule) -> tuple[str, str | None]:
    """The tick flags the schedule's runs get ("--at", "--date"), and why its task cannot run (None if it can)."""
    from webmon.scheduling.taskparams import flag, tick_params

    problem = schedule.task_problem()
    if problem is not None:
        return "", problem
    return _(" and ").join(flag(name) for name in tick_params(schedule.kind().cls)), None


@require_safe
def schedule_list(request: HttpRequest) -> HttpResponse:
    clock = Clock.current()
    # The logical time of each schedule's 5th newest run: one seek per schedule on uq_run_tick's index.
    fifth = ScheduledRun.objects.filter(schedule=OuterRef("pk")).order_by("-logical_time").values("logical_time")
    schedules = list(Schedule.objects.annotate(cutoff=Subquery(fifth[RECENT_RUNS - 1 : RECENT_RUNS])))
    recent: dict[int, list[RunRow]] = {s.pk: [] for s in schedules}
    if schedules:
        wanted = Q()
        for s in schedules:
            wanted |= Q(schedule_id=s.pk, logical_time__gte=s.cutoff) if s.cutoff else Q(schedule_id=s.pk)
        for run in ScheduledRun.objects.filter(wanted).order_by("schedule_id", "-logical_time", "-id"):
            if len(recent[run.schedule_id]) < RECENT_RUNS:  # ties at the cutoff minute give a few extra
                recent[run.schedule_id].append(RunRow.of(run, clock.now))
    rows = [ScheduleRow(s, STATE_BADGE.get(s.state, ""), s.next_run(clock.now), recent[s.pk]) for s in schedules]
    return render(
        request,
        "scheduling/schedules.html",
        {
            "clock": clock,
            "rows": rows,
            "can_change": request.user.has_perm(CHANGE),
        },
    )


@require_safe
def schedule_detail(request: HttpRequest, pk: int) -> HttpResponse:
    clock = Clock.current()
    schedule = get_object_or_404(Schedule, pk=pk)
    runs = schedule.runs.order_by("-logical_time", "-id")
    cursor = _cursor(request.GET.get("from", ""))
    if cursor is not None:  # keyset: this run and the older ones
        runs = runs.filter(Q(logical_time__lt=cursor[0]) | Q(logical_time=cursor[0], id__lte=cursor[1]))
    page = list(runs[: RUNS_PAGE + 1])
    older = page[RUNS_PAGE] if len(page) > RUNS_PAGE else None
    try:
        upcoming = schedule.upcoming(clock.now, 5)
    except ValueError:
        upcoming = []
    tick_flags, task_problem = task_facts(schedule)
    return render(
        request,
        "scheduling/schedule.html",
        {
            "clock": clock,
            "schedule": schedule,
            "badge": STATE_BADGE.get(schedule.state, ""),
            "cadence": cadence_text(schedule),
            "tick_flags": tick_flags,
            "task_problem": task_problem,
            "upcoming": upcoming,
            "channels": list(schedule.channels.all()),
            "events": list(schedule.events.select_related("run")[:EVENTS]),
            "runs": [RunRow.of(run, clock.now) for run in page[:RUNS_PAGE]],
            "older": _cursor_text(older) if older else None,
            "paged": cursor is not None,
            "can_change": request.user.has_perm(CHANGE),
            "trigger_form": TriggerForm(schedule),
            "backfill_form": BackfillForm(schedule),
            "rerunnable": (ScheduledRun.FAILED, ScheduledRun.TIMED_OUT),
        },
    )


@require_safe
def run_link(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    """The address notices link to: the schedule's page, starting at this run."""
    run = get_object_or_404(ScheduledRun, pk=run_id, schedule_id=pk)
    url = reverse("scheduling:detail", args=[pk])
    return redirect(f"{url}?from={_cursor_text(run)}#run-{run.pk}")


@require_safe
def run_output(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    """The run's CLI output file, streamed; only files inside var/ or RUN_OUTPUT_DIR are served."""
    run = get_object_or_404(ScheduledRun, pk=run_id, schedule_id=pk)
    if not run.output_path:
        raise Http404(_("This run has no output file (yet)."))
    var = Path(settings.VAR_DIR).resolve()
    path = Path(run.output_path)
    path = (path if path.is_absolute() else Path(settings.BASE_DIR) / path).resolve()
    if not (path.is_relative_to(var) or path.is_relative_to(Path(settings.RUN_OUTPUT_DIR).resolve())):
        return HttpResponseForbidden(
            _("The output file of run %(run)s is outside %(folder)s; it is not served.") % {"run": run.pk, "folder": var},
            content_type="text/plain; charset=utf-8",
        )
    try:
        handle = path.open("rb")
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise Http404(_("The output file is gone.")) from None
    return FileResponse(handle, content_type="text/plain; charset=utf-8")


@require_POST
@permission_required(CHANGE, raise_exception=True)
def pause(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    if states.pause(schedule, timezone.now(), request.user.get_username()):
        messages.success(request, _("Paused %(name)s: no ticks fire until it is resumed.") % {"name": schedule.name})
    else:
        messages.info(request, _("%(name)s was paused already.") % {"name": schedule.name})
    return _back(request, schedule)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def resume(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    if states.resume(schedule, timezone.now(), request.user.get_username()):
        messages.success(
            request,
            _("Resumed %(name)s: ticks fire again from now on; "
              "those that fell due while it was paused are not fired.") % {"name": schedule.name},
        )
    else:
        messages.info(request, _("%(name)s was not paused.") % {"name": schedule.name})
    return _back(request, schedule)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def trigger(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    form = TriggerForm(schedule, request.POST)
    if not form.is_valid():
        problem = " ".join(form.errors.get("overrides", [_("bad input.")]))
        messages.error(request, _("Not triggered: %(problem)s") % {"problem": problem})
        return _back(request, schedule)
    now = timezone.now()
    run = form.save(now)
    if run is None:
        messages.warning(
            request,
            _("%(name)s has a manual run at %(at)s already; trigger again in the next minute, or rerun that one.")
            % {"name": schedule.name, "at": time_text(this_minute(now), "min")},
        )
    else:
        given = form.cleaned_data["overrides"]
        values = {"name": schedule.name, "at": time_text(run.logical_time, "min")}
        if given:
            text = _("Queued a manual run of %(name)s at %(at)s with overrides %(overrides)s.") % {
                **values, "overrides": json.dumps(given, sort_keys=True)}
        else:
            text = _("Queued a manual run of %(name)s at %(at)s.") % values
        messages.success(request, text)
    return _back(request, schedule)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def backfill(request: HttpRequest, pk: int) -> HttpResponse:
    schedule = get_object_or_404(Schedule, pk=pk)
    form = BackfillForm(schedule, request.POST)
    if not form.is_valid():
        messages.error(request, _("No backfill: %(problem)s") % {"problem": form.errors_text()})
        return _back(request, schedule)
    created = form.save(timezone.now())
    skipped = len(form.plan.existing) if form.plan else 0
    values = {"n": created, "name": schedule.name, "skipped": skipped}
    if skipped:
        text = ngettext("Queued %(n)d backfill run of %(name)s; skipped %(skipped)d tick(s) that have a run already.",
                        "Queued %(n)d backfill runs of %(name)s; skipped %(skipped)d tick(s) that have a run already.",
                        created) % values
    else:
        text = ngettext("Queued %(n)d backfill run of %(name)s.", "Queued %(n)d backfill runs of %(name)s.",
                        created) % values
    messages.success(request, text)
    return _back(request, schedule)


@require_POST
@permission_required(CHANGE, raise_exception=True)
def rerun(request: HttpRequest, pk: int, run_id: int) -> HttpResponse:
    run = get_object_or_404(ScheduledRun.objects.select_related("schedule"), pk=run_id, schedule_id=pk)
    if states.rerun(run, request.user.get_username()):
        messages.success(request, _("Queued the run of %(at)s again.") % {"at": time_text(run.logical_time, "min")})
    else:
        messages.error(
            request,
            _("The run of %(at)s is %(state)s: only failed and timed-out runs can be rerun.")
            % {"at": time_text(run.logical_time, "min"), "state": run.get_state_display()},
        )
    return _back(request, run.schedule)


def _back(request: HttpRequest, schedule: Schedule) -> HttpResponse:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect("scheduling:detail", schedule.pk)


def _cursor_text(run: ScheduledRun) -> str:
    return f"{int(run.logical_time.timestamp())}.{run.pk}"


def _cursor(text: str) -> tuple[datetime, int] | None:
    seconds, _, pk = text.partition(".")
    if not (seconds.isdigit() and pk.isdigit()):
        return None
    return datetime.fromtimestamp(int(seconds), tz=UTC), int(pk)
