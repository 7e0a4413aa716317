"""The filter forms of the runs list, the tasks list and the log viewer: request.GET -> a filter, refusing bad values with a message."""

from __future__ import annotations

from typing import Any

from django import forms

from webmon.history.queries import RunFilter
from webmon.history.runs import LEVEL_CHOICES
from webmon.history.tasks import EVENTS, TaskFilter
from webmon.history.ticks import STATUSES

DATETIME_FORMATS = ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d"]


class RunFilterForm(forms.Form):
    crawl = forms.CharField(required=False, max_length=100)
    family = forms.CharField(required=False, max_length=100)
    status = forms.ChoiceField(
        required=False,
        choices=[("", "any")] + [(s, s) for s in STATUSES],
        widget=forms.Select(attrs={"id": "filter-status"}),
    )
    host = forms.CharField(required=False, max_length=255)
    task = forms.CharField(required=False, max_length=255, label="Task id")
    q = forms.CharField(required=False, max_length=200, label="Parameter contains")
    since = forms.DateTimeField(required=False, input_formats=DATETIME_FORMATS, label="From (UTC)")
    until = forms.DateTimeField(required=False, input_formats=DATETIME_FORMATS, label="Until (UTC)")

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
        choices=[("", "all levels")] + [(lv, f"{lv} and above") for lv in LEVEL_CHOICES],
        widget=forms.Select(attrs={"id": "log-level"}),
    )
    q = forms.CharField(
        required=False,
        max_length=200,
        label="Search",
        widget=forms.TextInput(attrs={"id": "log-search", "type": "search"}),
    )
    after = forms.IntegerField(required=False, min_value=0)

    def values(self) -> tuple[str, str, int | None]:
        self.is_valid()
        data: dict[str, Any] = getattr(self, "cleaned_data", {})
        return data.get("level") or "", data.get("q") or "", data.get("after")


class TaskFilterForm(forms.Form):
    """The tasks list's filters (Luigi's tasks): request.GET -> TaskFilter."""

    family = forms.CharField(required=False, max_length=128)
    host = forms.CharField(required=False, max_length=128)
    status = forms.ChoiceField(
        required=False,
        choices=[("", "any")] + [(e, e) for e in EVENTS],
        widget=forms.Select(attrs={"id": "task-filter-status"}),
    )
    task = forms.CharField(required=False, max_length=200, label="Task id")
    param = forms.CharField(required=False, max_length=128, label="Parameter")
    value = forms.CharField(required=False, max_length=1000, label="= value")
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
