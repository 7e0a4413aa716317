"""Admin of schedules and channels; runs, events, deliveries and heartbeats are read-mostly.

A schedule's change page shows its next five fire times, its last runs with
their status, and the parameters of every task it can name; bad values are
refused with Schedule.clean()'s sentences. Times kept by the daemon are shown
as the monitor's pages show them (ISO, in the user's zone, naming it), not in
Django's locale format.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

from django.contrib import admin
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from webmon.monitor.templatetags.monitor import time_text
from webmon.scheduling.forms import ScheduleAdminForm
from webmon.scheduling.models import Channel, DaemonHeartbeat, Delivery, Schedule, ScheduledRun, ScheduleEvent
from webmon.scheduling.views import cadence_text, parameters_text

LAST_RUNS = 10


def time_column(model: type, field: str, fmt: str = "") -> Callable[[admin.ModelAdmin, object], str]:
    """A list column / read-only field showing `field` as the pages do ("2026-11-21 12:00 UTC"), sortable.

    Assign it as `<field>_text` and list that name: a name that is a model field would show the field.
    """

    @admin.display(description=model._meta.get_field(field).verbose_name, ordering=field)
    def show(self: admin.ModelAdmin, obj: object) -> str:
        return time_text(getattr(obj, field), fmt)

    show.__name__ = f"{field}_text"
    return show


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleAdminForm
    list_display = ["name", "task", "crawl", "parameters", "cadence", "state", "enabled", "next_due_text"]
    list_filter = ["task", "state", "enabled", "crawl", "catchup", "overlap"]
    search_fields = ["name", "crawl"]
    filter_horizontal = ["channels"]
    readonly_fields = ["state", "last_tick_text", "next_due_text", "last_success_text", "next_five_fire_times", "last_runs",
                       "task_parameters"]
    fieldsets = [
        (None, {"fields": ["name", "task", "crawl", "task_params", "task_parameters", "enabled", "params",
                           "channels"]}),
        (
            gettext_lazy("When"),
            {
                "fields": [
                    "cron",
                    "timezone",
                    "interval_seconds",
                    "start_at",
                    "end_at",
                    "catchup",
                    "jitter_seconds",
                    "next_five_fire_times",
                ]
            },
        ),
        (
            gettext_lazy("Runs"),
            {
                "fields": [
                    "max_active_runs",
                    "overlap",
                    "retries",
                    "retry_delay_seconds",
                    "retry_exponential",
                    "max_retry_delay_seconds",
                    "timeout_seconds",
                    "grace_seconds",
                ]
            },
        ),
        (
            gettext_lazy("State (kept by the trigger daemon)"),
            {"fields": ["state", "last_tick_text", "next_due_text", "last_success_text", "last_runs"]},
        ),
    ]

    next_due_text = time_column(Schedule, "next_due", "min")
    last_tick_text = time_column(Schedule, "last_tick", "min")
    last_success_text = time_column(Schedule, "last_success")

    @admin.display(description=gettext_lazy("cadence"))
    def cadence(self, obj: Schedule) -> str:
        return cadence_text(obj)

    @admin.display(description=gettext_lazy("parameters"))
    def parameters(self, obj: Schedule) -> str:
        """One column for what a run gets: a crawl's spec overrides, or another task's parameters."""
        return parameters_text(obj)

    @admin.display(description=gettext_lazy("parameters of the known tasks"))
    def task_parameters(self, obj: Schedule) -> SafeString | str:
        """Each task the field suggests, with what each parameter takes: what task_params may hold."""
        from webmon.scheduling.kinds import TaskKindError, known_kinds
        from webmon.scheduling.taskparams import signature

        try:
            kinds = known_kinds()
        except TaskKindError as exc:
            return str(exc)
        if obj.pk and obj.task and obj.task not in {k.name for k in kinds}:
            try:
                kinds.insert(0, obj.kind())
            except TaskKindError as exc:
                return format_html("<p class='errornote'>{}</p>", str(exc))
        return format_html(
            "<dl class='task-parameters'>{}</dl>",
            format_html_join(
                "",
                "<dt><code>{}</code></dt><dd><ul>{}</ul></dd>",
                (
                    (
                        kind.name,
                        format_html("<li>{}</li>", _("Its crawl and spec overrides are the crawl and params "
                                                     "fields; each run gets the tick as --at."))
                        if kind.is_crawl else
                        format_html_join("", "<li><code>{}</code>: {}{}</li>",
                                         ((n, what, f" ({text})" if text else "")
                                          for n, what, text in signature(kind.cls)))
                        or format_html("<li>{}</li>", _("no parameters")),
                    )
                    for kind in kinds
                ),
            ),
        )

    @admin.display(description=gettext_lazy("next five fire times"))
    def next_five_fire_times(self, obj: Schedule) -> SafeString | str:
        if obj.pk is None:
            return _("Shown once the schedule is saved.")
        try:
            ticks = obj.upcoming(timezone.now(), 5)
        except ValueError:
            return _("No valid cadence.")
        if not ticks:
            return _("None: the schedule has ended.")
        local = obj.timezone if obj.cron.strip() and obj.timezone != "UTC" else None
        return format_html(
            "<ol class='next-fire-times'>{}</ol>",
            format_html_join(
                "",
                "<li>{} UTC{}</li>",
                ((f"{t:%Y-%m-%d %H:%M}", f" ({_local(t, local)} {local})" if local else "") for t in ticks),
            ),
        )

    @admin.display(description=gettext_lazy("last runs"))
    def last_runs(self, obj: Schedule) -> SafeString | str:
        if obj.pk is None:
            return "—"
        runs = list(obj.runs.order_by("-logical_time", "-id")[:LAST_RUNS])
        if not runs:
            return _("No runs yet.")
        return format_html(
            "<ul class='last-runs'>{}</ul>",
            format_html_join(
                "",
                "<li><a href='{}'>{} UTC</a> {}: <strong>{}</strong>{}</li>",
                (
                    (
                        reverse("admin:scheduling_scheduledrun_change", args=[r.pk]),
                        f"{r.logical_time:%Y-%m-%d %H:%M}",
                        r.get_trigger_display(),
                        r.get_state_display(),
                        f" ({r.reason[:120]})" if r.reason else "",
                    )
                    for r in runs
                ),
            ),
        )


def _local(tick: datetime, tz: str) -> str:
    return f"{tick.astimezone(ZoneInfo(tz)):%Y-%m-%d %H:%M}"


class ReadMostly(admin.ModelAdmin):
    """Written by the daemon and the pages: viewable, deletable, not added or edited here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False


@admin.register(ScheduledRun)
class ScheduledRunAdmin(ReadMostly):
    list_display = [
        "schedule",
        "logical_time_text",
        "trigger",
        "state",
        "attempts",
        "exit_code",
        "started_at_text",
        "finished_at_text",
    ]
    list_filter = ["state", "trigger", "schedule"]
    list_select_related = ["schedule"]
    search_fields = ["schedule__name", "reason"]
    date_hierarchy = "logical_time"
    logical_time_text = time_column(ScheduledRun, "logical_time", "min")
    started_at_text = time_column(ScheduledRun, "started_at")
    finished_at_text = time_column(ScheduledRun, "finished_at")


@admin.register(ScheduleEvent)
class ScheduleEventAdmin(ReadMostly):
    list_display = ["schedule", "at_text", "old_state", "new_state", "reason", "detail", "notified_at_text"]
    list_filter = ["new_state", "reason", "schedule"]
    list_select_related = ["schedule"]
    at_text = time_column(ScheduleEvent, "at")
    notified_at_text = time_column(ScheduleEvent, "notified_at")


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    # The target is not listed: webhook URLs carry their secret.
    list_display = ["name", "kind", "payload_format", "language"]
    list_filter = ["kind", "payload_format", "language"]


@admin.register(Delivery)
class DeliveryAdmin(ReadMostly):
    list_display = ["notice", "channel", "at_text", "ok", "error"]
    list_filter = ["ok", "channel"]
    list_select_related = ["event__schedule", "channel"]
    at_text = time_column(Delivery, "at")

    @admin.display(description=gettext_lazy("notice"))
    def notice(self, obj: Delivery) -> str:
        return f"{obj.event.schedule.name}: {obj.event.old_state} → {obj.event.new_state} ({obj.event.reason})"


@admin.register(DaemonHeartbeat)
class DaemonHeartbeatAdmin(ReadMostly):
    list_display = ["name", "started_at_text", "beat_at_text", "slots"]
    started_at_text = time_column(DaemonHeartbeat, "started_at")
    beat_at_text = time_column(DaemonHeartbeat, "beat_at")
