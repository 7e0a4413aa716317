"""The filter forms of the runs list, the tasks list and the log viewer: request.GET -> a filter, refusing bad values with a message."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _

from webmon.history.queries import RunFilter
from webmon.history.runs import LEVEL_CHOICES
from webmon.history.tasks import EVENTS, TaskFilter
from webmon.history.ticks import STATUSES
from webmon.monitor.models import UserPreference

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


def _status_choices(codes: tuple[str, ...]) -> list[tuple[str, Any]]:
    from webmon.monitor.templatetags.monitor import STATUS_LABELS

    return [("", _("any"))] + [(code, STATUS_LABELS.get(code, code)) for code in codes]


class RunFilterForm(forms.Form):
    """Naive times (From, Until) are read in the user's time zone, as Django's forms do."""

    crawl = forms.CharField(required=False, max_length=100, label=_("Crawl"))
    family = forms.CharField(required=False, max_length=100, label=_("Task family"))
    status = forms.ChoiceField(
        required=False,
        choices=_status_choices(STATUSES),
        widget=forms.Select(attrs={"id": "filter-status"}),
        label=_("Status"),
    )
    host = forms.CharField(required=False, max_length=255, label=_("Host"))
    task = forms.CharField(required=False, max_length=255, label=_("Task id"))
    q = forms.CharField(required=False, max_length=200, label=_("Parameter contains"))
    since = forms.DateTimeField(required=False, input_formats=DATETIME_FORMATS, label=_("From"))
    until = forms.DateTimeField(required=False, input_formats=DATETIME_FORMATS, label=_("Until"))

    def run_filter(self) -> RunFilter:
        """The filter from the valid fields; an invalid field filters nothing (its error is shown)."""
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})
        return RunFilter(
            crawl=data.get("crawl") or "",
            family=data.get("family") or "",
            status=data.get("status") or "",
            host=data.get("host") or "",
            task_id=data.get("task") or "",
            q=data.get("q") or "",
            since=data.get("since"),
            until=data.get("until"),
        )


class LogFilterForm(forms.Form):
    level = forms.ChoiceField(
        required=False,
        choices=[("", _("all levels"))] + [(lv, format_lazy(_("{level} and above"), level=lv)) for lv in LEVEL_CHOICES],
        widget=forms.Select(attrs={"id": "log-level"}),
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label=_("Search"),
        widget=forms.TextInput(attrs={"id": "log-search", "type": "search"}),
    )
    after = forms.IntegerField(required=False, min_value=0)

    def values(self) -> tuple[str, str, int | None]:
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})
        return data.get("level") or "", data.get("q") or "", data.get("after")


class TaskFilterForm(forms.Form):
    """The tasks list's filters (Luigi's tasks): request.GET -> TaskFilter."""

    family = forms.CharField(required=False, max_length=128, label=_("Task family"))
    host = forms.CharField(required=False, max_length=128, label=_("Host"))
    status = forms.ChoiceField(
        required=False,
        choices=[("", _("any"))] + [(e, e) for e in EVENTS],  # Luigi's event names, as luigid writes them
        widget=forms.Select(attrs={"id": "task-filter-status"}),
        label=_("Status"),
    )
    task = forms.CharField(required=False, max_length=200, label=_("Task id"))
    param = forms.CharField(required=False, max_length=128, label=_("Parameter"))
    value = forms.CharField(required=False, max_length=1000, label=_("= value"))
    before = forms.IntegerField(required=False, min_value=0)
    after = forms.IntegerField(required=False, min_value=0)

    def task_filter(self) -> TaskFilter:
        """The filter from the valid fields; an invalid field filters nothing (its error is shown)."""
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})
        return TaskFilter(
            family=data.get("family") or "",
            host=data.get("host") or "",
            status=data.get("status") or "",
            task_id=data.get("task") or "",
            param=data.get("param") or "",
            value=data.get("value") or "",
        )

    def cursor(self) -> tuple[int | None, int | None]:
        """(before, after): the keyset position, task ids."""
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})
        return data.get("before"), data.get("after")


class PreferenceForm(forms.ModelForm):
    """The Settings page: the user's language and time zone."""

    time_zone = forms.ChoiceField(label=_("Time zone"), widget=forms.Select(attrs={"id": "settings-time-zone"}),
                                  help_text=_("Times on the pages are shown in this zone; UTC shows them as stored."))

    class Meta:
        model = UserPreference
        fields = ["language", "time_zone"]
        labels = {"language": _("Language")}
        widgets = {"language": forms.Select(attrs={"id": "settings-language"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        from webmon.monitor.preferences import time_zone_names

        super().__init__(*args, **kwargs)
        self.fields["time_zone"].choices = [(name, name) for name in time_zone_names()]
