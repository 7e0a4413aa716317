"""Forms of the schedule pages and the admin; each refuses bad input with a sentence.

Creating work means inserting queued ScheduledRun rows; the trigger daemon
starts them (applying overlap, max active runs, retries and timeouts) with
`run.params` as the whole set of overrides, so a run gets the schedule's
params with the ones given here on top:
- TriggerForm.save(): one manual run at the current minute, with overrides;
- BackfillForm.save(): one backfill run per tick of the cadence in [start, end],
  skipping ticks that have a run already (of any trigger), at most 1,000 ticks.
`manage.py backfill` uses BackfillForm too, so the web and the command agree.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from itertools import islice
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from webmon.scheduling.models import Schedule, ScheduledRun, known_crawls
from webmon.scheduling.ticks import Cadence, iter_ticks

MAX_BACKFILL_TICKS = 1000


def parse_when(text: str, *, end: bool = False) -> datetime:
    """An ISO date or date-time as aware UTC; no offset means UTC; a date alone is its
    whole day (00:00 as a start, 23:59 as an end)."""
    text = text.strip()
    try:
        if len(text) == 10:
            day = date.fromisoformat(text)
            return datetime.combine(day, time(23, 59) if end else time(0, 0), tzinfo=UTC)
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            _("%(text)r is not a date or time; use ISO 8601 such as 2026-11-01 or 2026-11-02T12:00 "
              "(UTC unless an offset such as +01:00 is given).") % {"text": text}
        ) from None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def parse_overrides(text: str, schedule: Schedule) -> dict[str, Any]:
    """A JSON object of spec overrides, checked against the crawl's spec (with the schedule's own).

    Only a crawl takes overrides: a run of any other task runs with the schedule's task_params.
    """
    text = text.strip()
    if not text:
        return {}
    if not schedule.is_crawl:
        raise ValidationError(_("Overrides are spec overrides of a crawl; %(task)s runs with the schedule's "
                                "task parameters (edit them in the admin).") % {"task": schedule.task})
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError(
            _("The overrides are not valid JSON: %(problem)s (line %(line)d, column %(column)d).")
            % {"problem": exc.msg, "line": exc.lineno, "column": exc.colno}
        ) from None
    if not isinstance(value, dict):
        raise ValidationError(_('The overrides must be a JSON object, e.g. {"max_pages": 500}.'))
    from pipelines.exceptions import SpecError
    from pipelines.spec import load_spec

    try:
        load_spec(schedule.crawl, overrides={**(schedule.params or {}), **value})
    except SpecError as exc:
        raise ValidationError(_("These overrides do not fit crawl %(crawl)s: %(problem)s")
                              % {"crawl": schedule.crawl, "problem": exc}) from None
    return value


def this_minute(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(second=0, microsecond=0)


class TriggerForm(forms.Form):
    overrides = forms.CharField(
        required=False,
        max_length=5000,
        widget=forms.TextInput(attrs={"placeholder": '{"max_pages": 50}', "size": 22}),
        help_text=gettext_lazy("Optional spec overrides (JSON object)."),
    )

    def __init__(self, schedule: Schedule, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schedule = schedule

    def clean_overrides(self) -> dict[str, Any]:
        return parse_overrides(self.cleaned_data.get("overrides") or "", self.schedule)

    def save(self, now: datetime) -> ScheduledRun | None:
        """The new manual run at this minute, or None when one exists for this minute already."""
        try:
            with transaction.atomic():
                return ScheduledRun.objects.create(
                    schedule=self.schedule,
                    logical_time=this_minute(now),
                    trigger=ScheduledRun.MANUAL,
                    state=ScheduledRun.QUEUED,
                    params={**(self.schedule.params or {}), **self.cleaned_data["overrides"]},
                    created_at=now,
                )
        except IntegrityError:  # uq_run_tick: (schedule, logical_time, trigger)
            return None


@dataclass(frozen=True)
class BackfillPlan:
    ticks: list[datetime]  # every tick in the range, oldest first
    existing: set[datetime]  # ticks that have a run already (any trigger)

    @property
    def new(self) -> list[datetime]:
        return [t for t in self.ticks if t not in self.existing]


def backfill_cadence(schedule: Schedule, start: datetime) -> Cadence:
    """The schedule's cadence without its start and end: a backfill is an explicit request.

    An interval keeps its phase: its ticks stay start_at + k * interval, also before start_at.
    """
    cadence = schedule.cadence()
    anchor = cadence.start
    if cadence.interval is not None and start < anchor:
        anchor -= cadence.interval * -((start - anchor) // cadence.interval)
    elif cadence.interval is None:
        anchor = min(anchor, start)
    return replace(cadence, start=anchor, end=None)


def plan_backfill(schedule: Schedule, start: datetime, end: datetime) -> BackfillPlan:
    if end < start:
        raise ValidationError(_("The end of the range is before its start."))
    ticks = []
    for tick in islice(
        iter_ticks(backfill_cadence(schedule, start), start - timedelta(microseconds=1)), MAX_BACKFILL_TICKS + 1
    ):
        if tick > end:
            break
        ticks.append(tick)
    if len(ticks) > MAX_BACKFILL_TICKS:
        raise ValidationError(
            _("From %(start)s to %(end)s UTC %(name)s has more than %(max)s ticks; backfill at most %(max)s at a "
              "time (split the range).")
            % {"start": f"{start:%Y-%m-%d %H:%M}", "end": f"{end:%Y-%m-%d %H:%M}", "name": schedule.name,
               "max": f"{MAX_BACKFILL_TICKS:,}"}
        )
    existing: set[datetime] = set()
    if ticks:
        existing = set(
            ScheduledRun.objects.filter(
                schedule=schedule, logical_time__gte=ticks[0], logical_time__lte=ticks[-1]
            ).values_list("logical_time", flat=True)
        )
    return BackfillPlan(ticks, existing)


class BackfillForm(forms.Form):
    start = forms.CharField(
        max_length=40, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("UTC; a date alone starts at 00:00.")
    )
    end = forms.CharField(
        max_length=40, widget=forms.DateInput(attrs={"type": "date"}),
        help_text=gettext_lazy("UTC; a date alone ends at 23:59.")
    )

    def __init__(self, schedule: Schedule, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.schedule = schedule
        self.plan: BackfillPlan | None = None

    def clean_start(self) -> datetime:
        return parse_when(self.cleaned_data["start"])

    def clean_end(self) -> datetime:
        return parse_when(self.cleaned_data["end"], end=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if "start" in data and "end" in data:
            self.plan = plan_backfill(self.schedule, data["start"], data["end"])
        return data

    def save(self, now: datetime) -> int:
        """Create the planned runs; how many were created."""
        assert self.plan is not None, "call is_valid() first"
        runs = [
            ScheduledRun(
                schedule=self.schedule,
                logical_time=tick,
                trigger=ScheduledRun.BACKFILL,
                state=ScheduledRun.QUEUED,
                params=self.schedule.params or {},
                created_at=now,
            )
            for tick in self.plan.new
        ]
        # ignore_conflicts: a tick fired by the daemon meanwhile keeps its run; ours is dropped.
        ScheduledRun.objects.bulk_create(runs, batch_size=200, ignore_conflicts=True)
        return len(runs)

    def errors_text(self) -> str:
        return " ".join(str(e) for errors in self.errors.values() for e in errors)


class DatalistInput(forms.TextInput):
    """A text input with a <datalist> of suggestions: the known task classes, any other name may be typed."""

    def __init__(self, options: list[tuple[str, str]] | None = None, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs)
        self.options = options or []

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        list_id = f"{(attrs or {}).get('id') or 'id_' + name}-options"
        html = super().render(name, value, {**(attrs or {}), "list": list_id}, renderer)
        options = format_html_join("", '<option value="{}">{}</option>', self.options)
        return format_html('{}<datalist id="{}">{}</datalist>', html, list_id, options)


def task_options() -> list[tuple[str, str]]:
    """(name, first docstring line) of every task a schedule can name (kinds.known_kinds)."""
    from webmon.scheduling.kinds import TaskKindError, known_kinds

    try:
        kinds = known_kinds()
    except TaskKindError:  # a built-in that cannot be imported: the field still takes any name
        return []
    return [(kind.name, (kind.cls.__doc__ or "").strip().split("\n", 1)[0]) for kind in kinds]


class ScheduleAdminForm(forms.ModelForm):
    """The admin's form: the crawl chosen from the loaded specs, the task from the known classes (or typed);
    Schedule.clean() says what is wrong."""

    task = forms.CharField(max_length=200, required=False, initial=Schedule.RUN_CRAWL,  # without it: a crawl
                           label=gettext_lazy("task"),
                           help_text=gettext_lazy("A Luigi task class as module.Class (suggested: the tasks of "
                                                  "luigi.cfg's [workflows] modules), or RunCrawl, BackupDatabase, "
                                                  "PruneHistory."))
    crawl = forms.ChoiceField(choices=(), required=False,  # blank for other tasks; clean() decides
                              label=gettext_lazy("crawl"),
                              help_text=gettext_lazy("A crawl spec in luigi.cfg's [crawl] spec_dirs (RunCrawl only)."))

    class Meta:
        model = Schedule
        fields = "__all__"
        widgets = {"cron": forms.TextInput(attrs={"placeholder": "*/15 * * * *"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = known_crawls()
        current = self.instance.crawl if self.instance.pk else ""
        if current and current not in names:  # its spec is gone: keep the value visible; clean() names it
            names = [current, *names]
        self.fields["crawl"].choices = [("", "---------")] + [(n, n) for n in names]
        self.fields["task"].widget = DatalistInput(task_options(), attrs={"size": 60, "maxlength": 200})

    def clean_task(self) -> str:
        return self.cleaned_data.get("task") or Schedule.RUN_CRAWL
