"""Notices of schedules going down and recovering, of ticks with data-quality violations and of ticks whose
crawl reached a limit: by email and by webhook.

`send_pending(now)` is the step the trigger daemon calls (like Healthchecks'
`sendalerts`): it finds events with new state "down", reason "recovered",
"data_quality" (quality.py) or "limit" (limits.py; neither changes the state) that were not notified, claims each with one conditional UPDATE of
`notified_at` (two daemons never send the same notice twice), and delivers it
to each of the schedule's channels, recording a Delivery per channel. A
channel that fails is recorded with its error and does not stop the others.

Webhook payloads (`Channel.payload_format`):
- json:     {"schedule", "task", "crawl", "state", "reason", "detail", "run_url", "at"}
            (task: the schedule's task class; crawl: empty for a task that is no crawl; for
            data_quality also "verdict" (warn or fail) and "violations", a list of sentences; for
            limit "verdict" and "limits", a sentence per limit reached)
- slack:    {"text", "blocks"}  (an incoming-webhook message)
- dingtalk: {"msgtype": "markdown", "markdown": {"title", "text"}}  (a custom robot)

The words of a notice (email subject and body, chat text) are in the channel's
language (`Channel.language`), else settings.WEBMON_NOTICE_LANGUAGE (en): a
channel is read by a team, not by one user, so the language is the channel's.
The json payload's fields stay codes (state, reason) for programs; the
detail (the run's error line) is the text the run wrote. Times are in UTC.

Settings read: WEBMON_BASE_URL (links in notices; default http://127.0.0.1:8000),
WEBMON_NOTICE_LANGUAGE, DEFAULT_FROM_EMAIL and Django's EMAIL_* (the mail backend).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from webmon.scheduling.limits import LIMIT
from webmon.scheduling.models import Channel, Delivery, Schedule, ScheduleEvent
from webmon.scheduling.quality import DATA_QUALITY

WEBHOOK_TIMEOUT = 5.0  # seconds; a slow receiver must not hold up the daemon's loop
BATCH = 100  # events per call; the next call takes the rest
ERROR_MAX = 300


@dataclass(frozen=True)
class Notice:
    """What one event says, whatever the channel."""

    schedule: str
    task: str
    crawl: str
    state: str  # "down" or "up"
    reason: str
    detail: str
    run_url: str
    at: datetime
    tick: datetime | None

    @classmethod
    def of(cls, event: ScheduleEvent) -> Notice:
        base = getattr(settings, "WEBMON_BASE_URL", "http://127.0.0.1:8000").rstrip("/")
        schedule = event.schedule
        if event.run_id is not None:
            path = reverse("scheduling:run", args=[schedule.pk, event.run_id])
        else:
            path = reverse("scheduling:detail", args=[schedule.pk])
        return cls(
            schedule=schedule.name,
            task=schedule.task,
            crawl=schedule.crawl if schedule.is_crawl else "",
            state=event.new_state,
            reason=event.reason,
            detail=event.detail,
            run_url=base + path,
            at=event.at,
            tick=event.run.logical_time if event.run is not None else None,
        )

    @property
    def is_quality(self) -> bool:
        return self.reason == DATA_QUALITY

    @property
    def is_limit(self) -> bool:
        return self.reason == LIMIT

    @property
    def about_tick(self) -> bool:
        """A notice about one tick's data (data_quality, limit): verdict and sentences in its detail."""
        return self.is_quality or self.is_limit

    @property
    def verdict(self) -> str:
        """warn or fail: the first line of a data_quality or limit event's detail."""
        return self.detail.split("\n", 1)[0] if self.about_tick else ""

    @property
    def violations(self) -> list[str]:
        """The sentences after the verdict: the monitors broken, or the limits reached."""
        return [line for line in self.detail.split("\n")[1:] if line] if self.about_tick else []

    @property
    def headline(self) -> str:
        """In the active language (deliver() activates the channel's)."""
        from webmon.monitor.templatetags.monitor import REASON_LABELS

        if self.is_limit:
            n = len(self.violations)
            what = _("tick failed") if self.verdict == "fail" else _("tick done with warnings")
            return ngettext("%(schedule)s: the crawl reached %(n)d limit (%(what)s)",
                            "%(schedule)s: the crawl reached %(n)d limits (%(what)s)", n) % {
                "schedule": self.schedule, "n": n, "what": what}
        if self.is_quality:
            n = len(self.violations)
            what = _("tick failed") if self.verdict == "fail" else _("tick done with warnings")
            return ngettext("%(schedule)s: data quality, %(n)d monitor broken (%(what)s)",
                            "%(schedule)s: data quality, %(n)d monitors broken (%(what)s)", n) % {
                "schedule": self.schedule, "n": n, "what": what}
        reason = str(REASON_LABELS.get(self.reason, self.reason.replace("_", " ")))
        if self.state == Schedule.DOWN:
            return _("%(schedule)s is DOWN: %(reason)s") % {"schedule": self.schedule, "reason": reason}
        return _("%(schedule)s is UP again: %(reason)s") % {"schedule": self.schedule, "reason": reason}

    def lines(self) -> list[str]:
        lines = [_("Crawl: %(crawl)s") % {"crawl": self.crawl} if self.crawl else _("Task: %(task)s") % {"task": self.task}]
        if self.tick is not None:
            lines.append(_("Tick: %(tick)s UTC") % {"tick": f"{self.tick:%Y-%m-%d %H:%M}"})
        if self.is_limit:
            lines += [_("Limit: %(limit)s") % {"limit": v} for v in self.violations]
        elif self.is_quality:
            lines += [_("Violation: %(violation)s") % {"violation": v} for v in self.violations]
        elif self.detail:
            lines.append(_("Error: %(detail)s") % {"detail": self.detail})
        lines.append(_("At: %(at)s UTC") % {"at": f"{self.at:%Y-%m-%d %H:%M:%S}"})
        return lines


def channel_language(channel: Channel) -> str:
    """The language the channel's notices are written in: its own, else WEBMON_NOTICE_LANGUAGE."""
    return channel.language or getattr(settings, "WEBMON_NOTICE_LANGUAGE", "en")


def send_pending(now: datetime) -> int:
    """Send the notices not sent yet; how many events this call claimed and sent."""
    pending = (
        ScheduleEvent.objects.filter(notified_at__isnull=True)
        .filter(Q(new_state=Schedule.DOWN) | Q(reason="recovered") | Q(reason__in=(DATA_QUALITY, LIMIT)))
        .select_related("schedule", "run")
        .order_by("at", "id")[:BATCH]
    )
    sent = 0
    for event in pending:
        claimed = ScheduleEvent.objects.filter(pk=event.pk, notified_at__isnull=True).update(notified_at=now)
        if claimed != 1:  # another daemon took it between our read and our claim
            continue
        notice = Notice.of(event)
        for channel in event.schedule.channels.all():
            error = deliver(channel, notice)
            Delivery.objects.create(event=event, channel=channel, at=now, ok=error is None, error=error or "")
        sent += 1
    return sent


def deliver(channel: Channel, notice: Notice) -> str | None:
    """Send `notice` to `channel` in its language; None when it went out, else why not (no secrets in it)."""
    with translation.override(channel_language(channel)):
        return _deliver(channel, notice)


def _deliver(channel: Channel, notice: Notice) -> str | None:
    try:
        if channel.kind == Channel.EMAIL:
            return send_email(channel.target, notice)
        if channel.kind == Channel.WEBHOOK:
            return post_webhook(channel.target, payload(channel.payload_format, notice))
        return f"unknown channel kind {channel.kind!r}"
    except Exception as exc:  # noqa: BLE001 - one broken channel must not stop the others or the daemon
        return _cut(f"{type(exc).__name__}: {_scrub(str(exc), channel.target)}")


def send_email(target: str, notice: Notice) -> str | None:
    recipients = [address.strip() for address in target.split(",") if address.strip()]
    if not recipients:
        return "no email address in the channel"
    body = "\n".join([notice.headline, "", *notice.lines(), "", _("Run: %(url)s") % {"url": notice.run_url}, ""])
    send_mail(f"[crawlops] {notice.headline}", body, None, recipients)
    return None


def payload(fmt: str, notice: Notice) -> dict[str, Any]:
    """The JSON body of a webhook in format `fmt` (json, slack or dingtalk)."""
    open_run = _("Open the run")
    if fmt == Channel.SLACK:
        text = "\n".join(
            [
                f"*{_slack(notice.headline)}*",
                *(_slack(line) for line in notice.lines()),
                f"<{notice.run_url}|{_slack(open_run)}>",
            ]
        )
        return {
            "text": f"[crawlops] {notice.headline}",  # shown in notifications and by clients without blocks
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}],
        }
    if fmt == Channel.DINGTALK:
        # DingTalk robots with a keyword filter need the keyword in the text: "crawlops" is.
        text = "\n\n".join([f"### [crawlops] {notice.headline}", *notice.lines(), f"[{open_run}]({notice.run_url})"])
        return {"msgtype": "markdown", "markdown": {"title": f"[crawlops] {notice.headline}", "text": text}}
    body = {
        "schedule": notice.schedule,
        "task": notice.task,
        "crawl": notice.crawl,
        "state": notice.state,
        "reason": notice.reason,
        "detail": notice.detail,
        "run_url": notice.run_url,
        "at": notice.at.isoformat(),
    }
    if notice.is_quality:
        body.update(detail="; ".join(notice.violations), verdict=notice.verdict, violations=notice.violations)
    elif notice.is_limit:
        body.update(detail="; ".join(notice.violations), verdict=notice.verdict, limits=notice.violations)
    return body


def post_webhook(url: str, body: dict[str, Any]) -> str | None:
    try:
        response = requests.post(url, json=body, timeout=WEBHOOK_TIMEOUT)
    except requests.Timeout:
        return f"no answer from {_where(url)} within {WEBHOOK_TIMEOUT:g} s"
    except requests.ConnectionError:
        return f"could not connect to {_where(url)}"
    if response.status_code >= 400:
        return _cut(f"HTTP {response.status_code} from {_where(url)}: {_scrub(response.text.strip(), url)}")
    return None


def _where(url: str) -> str:
    # Host and port only: webhook URLs carry their secret in the path (Slack) or the query (DingTalk).
    parts = urlsplit(url)
    return parts.netloc.rpartition("@")[2] or "the webhook"


def _scrub(text: str, url: str) -> str:
    """`text` without the URL's path, query, their longer parts and any password (the likely secrets)."""
    parts = urlsplit(url)
    secrets = [
        url,
        parts.path + ("?" + parts.query if parts.query else ""),
        parts.query,
        parts.path,
        parts.password or "",
    ]
    secrets += [value for _, value in parse_qsl(parts.query)] + parts.path.split("/")
    for secret in sorted(secrets, key=len, reverse=True):
        if len(secret) >= 6:
            text = text.replace(secret, "…")
    return text


def _slack(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str) -> str:
    return text if len(text) <= ERROR_MAX else text[: ERROR_MAX - 1] + "…"
