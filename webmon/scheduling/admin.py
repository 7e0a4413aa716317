"""Admin of schedules and channels; runs, events, deliveries and heartbeats are read-mostly.

A schedule's change page shows its next five fire times, its last runs with
their status, and the parameters of every task it can name; bad values are
refused with Schedule.clean()'s sentences.
"""

from __future__ import annotations

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

from webmon.scheduling.forms import ScheduleAdminForm
from webmon.scheduling.models import Channel, DaemonHeartbeat, Delivery, Schedule, ScheduledRun, ScheduleEvent
from webmon.scheduling.views import cadence_text

LAST_RUNS = 10


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    form = ScheduleAdminForm
    list_display = ["name", "task", "crawl", "cadence", "state", "enabled", "next_due"]
    list_filter = ["task", "state", "enabled", "crawl", "catchup", "overlap"]
    search_fields = ["name", "crawl"]
    filter_horizontal = ["channels"]
    readonly_fields = ["state", "last_tick", "next_due", "last_success", "next_five_fire_times", "last_runs",
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
            {"fields": ["state", "last_tick", "next_due", "last_success", "last_runs"]},
        ),
    ]

    @admin.display(description=gettext_lazy("cadence"))
    def cadence(self, obj: Schedule) -> str:
        return cadence_text(obj)

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
        "logical_time",
        "trigger",
        "state",
        "attempts",
        "exit_code",
        "started_at",
        "finished_at",
    ]
    list_filter = ["state", "trigger", "schedule"]
    list_select_related = ["schedule"]
    search_fields = ["schedule__name", "reason"]
    date_hierarchy = "logical_time"


@admin.register(ScheduleEvent)
class ScheduleEventAdmin(ReadMostly):
    list_display = ["schedule", "at", "old_state", "new_state", "reason", "detail", "notified_at"]
    list_filter = ["new_state", "reason", "schedule"]
    list_select_related = ["schedule"]


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin):
    # The target is not listed: webhook URLs carry their secret.
    list_display = ["name", "kind", "payload_format", "language"]
    list_filter = ["kind", "payload_format", "language"]


@admin.register(Delivery)
class DeliveryAdmin(ReadMostly):
    list_display = ["notice", "channel", "at", "ok", "error"]
    list_filter = ["ok", "channel"]
    list_select_related = ["event__schedule", "channel"]

    @admin.display(description=gettext_lazy("notice"))
    def notice(self, obj: Delivery) -> str:
        return f"{obj.event.schedule.name}: {obj.event.old_state} → {obj.event.new_state} ({obj.event.reason})"


@admin.register(DaemonHeartbeat)
class DaemonHeartbeatAdmin(ReadMostly):
    list_display = ["name", "started_at", "beat_at", "slots"]
