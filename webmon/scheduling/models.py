"""Schedules, their runs and their state: what the trigger daemon reads and writes.

Rules live here (Healthchecks style): `Schedule.cadence()`, `Schedule.clean()`
with a sentence for each bad value, `ScheduledRun.retry_at()`, the state
transitions in `Schedule.set_state()`. All times are aware UTC.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.timezone import now as utcnow
from django.utils.translation import gettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _

from webmon.scheduling.ticks import CATCHUP_POLICIES, Cadence, cron_error, next_ticks, timezone_error

if TYPE_CHECKING:
    from webmon.scheduling.kinds import TaskKind

PARAM_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")


def known_crawls() -> list[str]:
    """Crawl names of the specs in luigi.cfg's [crawl] spec_dirs."""
    from pipelines.config import crawl
    from pipelines.spec import available_specs

    return [p.stem for p in available_specs(crawl().spec_folders())]


def crawl_error(name: str) -> str | None:
    from pipelines.exceptions import SpecError
    from pipelines.spec import load_spec

    try:
        load_spec(name)
    except SpecError as exc:
        return str(exc)
    return None


class Channel(models.Model):
    """Where notices go: an email address list, or a webhook (JSON, Slack or DingTalk payload)."""

    EMAIL, WEBHOOK = "email", "webhook"
    KINDS = [(EMAIL, _("Email")), (WEBHOOK, _("Webhook"))]
    JSON, SLACK, DINGTALK = "json", "slack", "dingtalk"
    FORMATS = [(JSON, "JSON"), (SLACK, _("Slack-compatible")), (DINGTALK, _("DingTalk-compatible"))]

    name = models.CharField(_("name"), max_length=100, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=KINDS)
    target = models.CharField(_("target"), max_length=500,
                              help_text=_("Email addresses (comma-separated) or the webhook URL."))
    payload_format = models.CharField(_("payload format"), max_length=10, choices=FORMATS, default=JSON)
    # A channel is read by a team (a mailing list, a chat room), not by one user: its notices are in
    # the language set here, else in settings.WEBMON_NOTICE_LANGUAGE.
    language = models.CharField(_("language"), max_length=16, blank=True,
                                choices=[("", _("the default (WEBMON_NOTICE_LANGUAGE)")), *settings.LANGUAGES],
                                help_text=_("The language of this channel's notices."))

    class Meta:
        verbose_name = _("notification channel")
        verbose_name_plural = _("notification channels")

    def __str__(self) -> str:
        return f"{self.name} ({self.kind})"

    def clean(self) -> None:
        if self.kind == self.WEBHOOK and not self.target.startswith(("http://", "https://")):
            raise ValidationError({"target": _("A webhook needs an http:// or https:// URL.")})
        if self.kind == self.EMAIL and "@" not in self.target:
            raise ValidationError({"target": _("Give one or more email addresses, separated by commas.")})


MAINTENANCE_DBS = ("history", "items", "webmon")


class Schedule(models.Model):
    """A Luigi task on a cadence, with catch-up, overlap, retry, timeout and lateness rules.

    The task is any Luigi class of an allowed module (kinds.py), with its parameters
    in `task_params` (taskparams.py); a crawl is RunCrawl, whose parameters are
    the `crawl` field and the spec overrides in `params`.
    """

    RUN_CRAWL, BACKUP, PRUNE = "RunCrawl", "BackupDatabase", "PruneHistory"

    CATCHUP = [("none", _("none: skip missed ticks")), ("latest", _("latest: run the newest missed tick")),
               ("all", _("all: run every missed tick"))]
    SKIP, QUEUE, ALLOW = "skip", "queue", "allow"
    OVERLAP = [(SKIP, _("skip the tick while a run is active")), (QUEUE, _("queue it until the active run ends")),
               (ALLOW, _("allow parallel runs (up to max active runs)"))]
    NEW, UP, LATE, DOWN, PAUSED = "new", "up", "late", "down", "paused"
    STATES = [(s, pgettext_lazy("schedule state", s)) for s in (NEW, UP, LATE, DOWN, PAUSED)]

    name = models.CharField(_("name"), max_length=100, unique=True)
    task = models.CharField(_("task"), max_length=200, default=RUN_CRAWL,
                            help_text=_("The Luigi task class, as module.Class (a module of luigi.cfg's [workflows] "
                                        "modules), or RunCrawl, BackupDatabase, PruneHistory."))
    crawl = models.CharField(_("crawl"), max_length=200, blank=True,
                             help_text=_("A crawl spec name (pipelines/crawls/NAME.toml); RunCrawl only."))
    task_params = models.JSONField(_("task parameters"), default=dict, blank=True,
                                   help_text=_('The task\'s Luigi parameters as a JSON object, e.g. {"db": "items"} '
                                               'for BackupDatabase; not the tick (at / date: the daemon sets it). '
                                               'A crawl takes none (its crawl and params fields).'))
    cron = models.CharField(_("cron"), max_length=100, blank=True, help_text=_("5-field cron, e.g. */15 * * * *"))
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC",
                                help_text=_("IANA name the cron is read in."))
    interval_seconds = models.PositiveIntegerField(_("interval (seconds)"), null=True, blank=True,
                                                   help_text=_("Instead of cron: every N seconds from the start."))
    enabled = models.BooleanField(_("enabled"), default=True)
    start_at = models.DateTimeField(_("start at"), default=utcnow)
    end_at = models.DateTimeField(_("end at"), null=True, blank=True)
    catchup = models.CharField(_("catch-up"), max_length=10, choices=CATCHUP, default="latest")
    max_active_runs = models.PositiveIntegerField(_("max active runs"), default=1)
    overlap = models.CharField(_("overlap"), max_length=10, choices=OVERLAP, default=SKIP)
    jitter_seconds = models.PositiveIntegerField(_("jitter (seconds)"), default=0,
                                                 help_text=_("Random delay up to this, per tick."))
    retries = models.PositiveIntegerField(_("retries"), default=2)
    retry_delay_seconds = models.PositiveIntegerField(_("retry delay (seconds)"), default=60)
    retry_exponential = models.BooleanField(_("exponential retry delay"), default=True,
                                            help_text=_("Double the delay after each failure."))
    max_retry_delay_seconds = models.PositiveIntegerField(_("max retry delay (seconds)"), default=3600)
    timeout_seconds = models.PositiveIntegerField(_("timeout (seconds)"), null=True, blank=True,
                                                  help_text=_("Kill a run after this long (its process group)."))
    grace_seconds = models.PositiveIntegerField(_("grace (seconds)"), default=300,
                                                help_text=_("How long after a tick without a success it is late."))
    params = models.JSONField(_("spec overrides"), default=dict, blank=True,
                              help_text=_('Spec overrides for every run, e.g. {"max_pages": 500, "fetch.delay": 1}.'))
    channels = models.ManyToManyField(Channel, blank=True, verbose_name=_("notification channels"))

    # Maintained by the trigger daemon.
    state = models.CharField(_("state"), max_length=10, choices=STATES, default=NEW, editable=False)
    last_tick = models.DateTimeField(_("last tick"), null=True, blank=True, editable=False)
    next_due = models.DateTimeField(_("next due"), null=True, blank=True, editable=False)
    last_success = models.DateTimeField(_("last success"), null=True, blank=True, editable=False)

    class Meta:
        ordering = ["name"]
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if bool(self.cron.strip()) == bool(self.interval_seconds):
            errors["cron"] = _("Give either a cron expression or an interval, not both and not neither.")
        elif self.cron.strip():
            problem = cron_error(self.cron.strip())
            if problem:
                errors["cron"] = _("Not a valid cron expression: %(problem)s.") % {"problem": problem}
        if self.interval_seconds is not None and self.interval_seconds < 60:
            errors["interval_seconds"] = _("The interval is at least 60 seconds (ticks are whole minutes).")
        problem = timezone_error(self.timezone)
        if problem:
            errors["timezone"] = _("Unknown timezone %(name)r; expected an IANA name such as Europe/Berlin.") % {
                "name": self.timezone}
        self._clean_task(errors)
        if self.catchup not in CATCHUP_POLICIES:
            errors["catchup"] = _("Expected one of %(choices)s.") % {"choices": ", ".join(CATCHUP_POLICIES)}
        if self.max_active_runs < 1:
            errors["max_active_runs"] = _("At least 1.")
        if self.end_at and self.start_at and self.end_at <= self.start_at:
            errors["end_at"] = _("The end must be after the start.")
        if not isinstance(self.params, dict):
            errors["params"] = _('Expected a JSON object, e.g. {"max_pages": 500}.')
        else:
            bad = [k for k in self.params if not PARAM_NAME.match(str(k))]
            if bad:
                errors["params"] = _("Unknown override key %(key)r: use spec keys such as max_pages or fetch.delay.") % {
                    "key": bad[0]}
            elif self.params and not self.is_crawl:
                errors["params"] = _("Spec overrides are for crawls only: other tasks take task_params.")
        if errors:
            raise ValidationError(errors)

    def _clean_task(self, errors: dict[str, Any]) -> None:
        from webmon.scheduling.kinds import TaskKindError
        from webmon.scheduling.taskparams import TaskParamsError, check

        if not self.task:
            return  # the field says "This field cannot be blank."
        try:
            kind = self.kind()
        except TaskKindError as exc:
            errors["task"] = str(exc)
            return
        self.task = kind.name
        if kind.is_crawl:
            if not self.crawl:
                errors["crawl"] = _("A RunCrawl schedule needs a crawl.")
            else:
                problem = crawl_error(self.crawl)
                if problem:
                    errors["crawl"] = _("Unknown or broken crawl: %(problem)s") % {"problem": problem}
            if self.task_params:
                errors["task_params"] = _("A crawl takes no task parameters: put spec overrides in params.")
            return
        if self.crawl:
            errors["crawl"] = _("Only a crawl (RunCrawl) takes a crawl; %(family)s takes task_params.") % {
                "family": kind.family}
        try:
            check(kind.cls, self.task_params)
        except TaskParamsError as exc:
            errors["task_params"] = str(exc)

    @property
    def is_crawl(self) -> bool:
        from webmon.scheduling.kinds import ALIASES, canonical

        return ALIASES.get(canonical(self.task)) == ALIASES[self.RUN_CRAWL]

    def kind(self) -> TaskKind:
        """The Luigi class the schedule names (TaskKindError with a sentence when it cannot be used)."""
        from webmon.scheduling.kinds import resolve

        return resolve(self.task)

    def task_values(self, overrides: dict[str, Any] | None = None) -> object:
        """The task's parameters (without the tick): a crawl's come from its crawl and spec overrides."""
        if self.is_crawl:
            return {"crawl": self.crawl, **({"overrides": dict(overrides)} if overrides else {})}
        return self.task_params if self.task_params is not None else {}

    def task_problem(self, overrides: dict[str, Any] | None = None) -> str | None:
        """Why this schedule's task cannot run now (its class or parameters), as a sentence; None when it can."""
        from webmon.scheduling.kinds import TaskKindError
        from webmon.scheduling.taskparams import TaskParamsError, check

        try:
            check(self.kind().cls, self.task_values(overrides))
        except (TaskKindError, TaskParamsError) as exc:
            if isinstance(exc, TaskParamsError):
                return gettext("%(task)s cannot run with these parameters: %(problem)s") % {
                    "task": self.task, "problem": exc}
            return str(exc)
        return None

    def cadence(self) -> Cadence:
        return Cadence(
            start=self.start_at, cron=self.cron.strip() or None, tz=self.timezone,
            interval=timedelta(seconds=self.interval_seconds) if self.interval_seconds else None,
            end=self.end_at,
        )

    def upcoming(self, now: datetime, n: int = 5) -> list[datetime]:
        return next_ticks(self.cadence(), max(now, self.last_tick or now), n)

    def next_run(self, now: datetime) -> datetime | None:
        """When it fires next: the daemon's next_due, else the cadence's next tick; None when paused or ended.

        The schedules page and the overview show this.
        """
        if not self.enabled or self.state == self.PAUSED:
            return None
        if self.next_due is not None:
            return self.next_due
        try:
            upcoming = self.upcoming(now, 1)
        except ValueError:  # no valid cadence (a row written around the admin's validation)
            return None
        return upcoming[0] if upcoming else None

    def retry_delay(self, attempt: int) -> timedelta:
        """Delay before retry number `attempt` (1 = the first retry)."""
        seconds = self.retry_delay_seconds
        if self.retry_exponential:
            seconds *= 2 ** (attempt - 1)
        return timedelta(seconds=min(seconds, self.max_retry_delay_seconds))

    def luigi_args(self, ticks: Mapping[str, str], overrides: dict[str, Any] | None = None) -> list[str]:
        """`python -m luigi` arguments of one run: `--module M Family --param value ...`.

        `ticks` are the texts of the tick flags (`at`, `date`); only those the class
        has are used. Shared by the trigger daemon and `scheduler.sh crontab` (which
        passes shell expressions). Raises TaskKindError / TaskParamsError.
        """
        from webmon.scheduling.taskparams import arguments, check

        kind = self.kind()
        values = check(kind.cls, self.task_values(overrides))
        return ["--module", kind.module, kind.family, *arguments(kind.cls, values, ticks)]

    def task_params_json(self) -> str:
        return json.dumps(self.task_params or {}, sort_keys=True, ensure_ascii=False)

    def params_json(self) -> str:
        return json.dumps(self.params or {}, sort_keys=True)


class ScheduledRun(models.Model):
    """One tick of a schedule (or a manual or backfill run) and its CLI process."""

    SCHEDULE, MANUAL, BACKFILL = "schedule", "manual", "backfill"
    TRIGGERS = [(SCHEDULE, _("schedule")), (MANUAL, _("manual")), (BACKFILL, _("backfill"))]
    QUEUED, RUNNING, SUCCESS, FAILED, SKIPPED, TIMED_OUT = (
        "queued", "running", "success", "failed", "skipped", "timed_out")
    STATES = [(QUEUED, _("queued")), (RUNNING, pgettext_lazy("run status", "running")), (SUCCESS, _("success")),
              (FAILED, pgettext_lazy("run status", "failed")), (SKIPPED, _("skipped")), (TIMED_OUT, _("timed out"))]
    ACTIVE = (RUNNING,)
    FINAL = (SUCCESS, FAILED, SKIPPED, TIMED_OUT)

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="runs", verbose_name=_("schedule"))
    logical_time = models.DateTimeField(_("tick"))
    trigger = models.CharField(_("trigger"), max_length=10, choices=TRIGGERS, default=SCHEDULE)
    state = models.CharField(_("state"), max_length=10, choices=STATES, default=QUEUED)
    reason = models.TextField(_("reason"), blank=True)  # why skipped / the error line / "missed"
    params = models.JSONField(_("spec overrides"), default=dict, blank=True)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    host_losses = models.PositiveIntegerField(default=0)  # times its host was lost mid-run (daemon.Trigger._take_over)
    not_before = models.DateTimeField(null=True, blank=True)  # jitter and retry backoff
    claimed_by = models.CharField(max_length=200, blank=True)
    pid = models.IntegerField(null=True, blank=True)
    exit_code = models.IntegerField(_("exit code"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    luigi_task_id = models.CharField(max_length=255, blank=True)
    output_path = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(default=utcnow)

    class Meta:
        ordering = ["-logical_time", "-id"]
        verbose_name = _("scheduled run")
        verbose_name_plural = _("scheduled runs")
        constraints = [
            # Two daemons on one database never fire a tick twice: the insert of the
            # second one fails on this constraint.
            models.UniqueConstraint(fields=["schedule", "logical_time", "trigger"], name="uq_run_tick"),
        ]
        indexes = [models.Index(fields=["state", "not_before"]), models.Index(fields=["schedule", "state"])]

    def __str__(self) -> str:
        return f"{self.schedule.name} @ {self.logical_time:%Y-%m-%d %H:%M} ({self.state})"

    @property
    def at_param(self) -> str:
        """RunCrawl's --at: the tick in UTC, to the minute."""
        return self.logical_time.astimezone(UTC).strftime("%Y-%m-%dT%H%M")


class ScheduleEvent(models.Model):
    """A change of a schedule's state, with the reason; notices are sent for some.

    Two kinds change no state (old state = new state): reason `data_quality`, a tick whose items broke
    its crawl's [monitors] (quality.py), and reason `limit`, a tick whose crawl reached a limit such
    as max_pages (limits.py); at most one of each per ScheduledRun, which the database enforces.
    """

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="events", verbose_name=_("schedule"))
    at = models.DateTimeField(_("at"), default=utcnow)
    old_state = models.CharField(_("old state"), max_length=10)
    new_state = models.CharField(_("new state"), max_length=10)
    # failed, missed, timed_out, recovered, paused, resumed, late, data_quality, limit
    reason = models.CharField(_("reason"), max_length=20)
    detail = models.TextField(_("detail"), blank=True)
    run = models.ForeignKey(ScheduledRun, null=True, blank=True, on_delete=models.SET_NULL, verbose_name=_("run"))
    notified_at = models.DateTimeField(_("notified at"), null=True, blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = _("schedule event")
        verbose_name_plural = _("schedule events")
        indexes = [models.Index(fields=["notified_at", "at"])]
        constraints = [
            # Two daemons (or two attempts of one run) never record a tick's data-quality notice twice.
            models.UniqueConstraint(fields=["run"], condition=models.Q(reason="data_quality"),
                                    name="uq_event_data_quality_per_run"),
            # Nor its notice of a limit reached (limits.py).
            models.UniqueConstraint(fields=["run"], condition=models.Q(reason="limit"), name="uq_event_limit_per_run"),
        ]


class Delivery(models.Model):
    """One attempt to deliver a notice to a channel."""

    event = models.ForeignKey(ScheduleEvent, on_delete=models.CASCADE, related_name="deliveries",
                              verbose_name=_("event"))
    channel = models.ForeignKey(Channel, on_delete=models.CASCADE, verbose_name=_("channel"))
    at = models.DateTimeField(_("at"), default=utcnow)
    ok = models.BooleanField(_("delivered"), default=False)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")


class DaemonHeartbeat(models.Model):
    """The trigger daemon's liveness: one row per daemon, updated every loop.

    A daemon that stops cleanly with none of its runs still running deletes its
    row; a crashed one's row stays (the Workers page shows it lost).
    """

    name = models.CharField(_("name"), max_length=200, unique=True)  # host:pid
    started_at = models.DateTimeField(_("started at"), default=utcnow)
    beat_at = models.DateTimeField(_("last beat"), default=utcnow)
    slots = models.PositiveIntegerField(_("slots"), default=0)  # runs it runs at once (Trigger.slots); 0: no limit

    class Meta:
        verbose_name = _("daemon heartbeat")
        verbose_name_plural = _("daemon heartbeats")
