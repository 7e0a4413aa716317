"""Template filters of the monitor: ages, durations, statuses, times. All return plain text (autoescaped),
except `when`, a <time> element built with format_html."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from typing import Any

from django import template
from django.utils import timezone
from django.utils.html import format_html
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.utils.translation import pgettext_lazy

from webmon.monitor.clock import Clock

register = template.Library()


def human(seconds: float) -> str:
    """<1 ms, 120 ms, 1.2 s, 12 s, 4 min 05 s, 2 h 03 min, 3 d 04 h (units as the active language writes them).

    Each unit is rounded where it is shown, and a value that rounds up to the next unit is shown in that
    one: 999.6 ms is "1.0 s", 9.96 s "10 s", 59.6 s "1 min 00 s" (never "1000 ms", "10.0 s", "60 s").
    """
    seconds = max(seconds, 0.0)
    if round(seconds * 1000) < 1:
        return _("<1 ms")
    if round(seconds * 1000) < 1000:
        return _("%(ms)d ms") % {"ms": round(seconds * 1000)}
    if round(seconds, 1) < 10:
        return _("%(s).1f s") % {"s": seconds}
    if round(seconds) < 60:
        return _("%(s).0f s") % {"s": seconds}
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return _("%(m)d min %(s)02d s") % {"m": minutes, "s": secs}
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _("%(h)d h %(m)02d min") % {"h": hours, "m": minutes}
    days, hours = divmod(hours, 24)
    return _("%(d)d d %(h)02d h") % {"d": days, "h": hours}


@register.filter
def dur(value: timedelta | float | None) -> str:
    if value is None:
        return "—"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    return human(seconds)


@register.filter
def ago(value: datetime | None, clock: Clock) -> str:
    if value is None:
        return "—"
    seconds = (clock.now - value).total_seconds()
    if seconds < 0:
        return _("in %(duration)s") % {"duration": human(-seconds)}
    return _("%(duration)s ago") % {"duration": human(seconds)}


@register.filter
def run_duration(run: Any, clock: Clock) -> str:
    return human(run.duration(clock.now).total_seconds())


@register.filter
def run_status(run: Any, clock: Clock) -> str:
    return run.display_status(clock.now, clock.stale_after)


@register.filter
def run_silence(run: Any, clock: Clock) -> int | None:
    """Seconds without a heartbeat of a running record gone stale, else None (no warning)."""
    return run.silent_seconds(clock.now, clock.stale_after)


# -- times: in the active time zone (the user's; UTC by default), always naming it --------------------
# Every time a page shows goes through `utc` (text: safe in attributes too) or `when` (a <time> element
# whose title is the UTC time when the zone is another): changing how times look is done here only.
FORMATS = {"": "%Y-%m-%d %H:%M:%S", "min": "%Y-%m-%d %H:%M", "ms": "%Y-%m-%d %H:%M:%S.%f"}


def zone_label(value: datetime) -> str:
    """UTC, or the offset of the active zone at that instant ("UTC+08:00"): unambiguous, unlike CST."""
    if timezone.get_current_timezone_name() == "UTC":
        return "UTC"
    offset = value.strftime("%z")  # +0800
    return f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"


def _text(value: datetime, fmt: str, zone: bool = True) -> str:
    text = value.strftime(FORMATS.get(fmt, FORMATS[""]))
    text = text[:-3] if fmt == "ms" else text
    return f"{text} {zone_label(value)}" if zone else text


def time_text(value: datetime | None, fmt: str = "", zone: bool = True) -> str:
    """The time in the active zone, with the zone: "2026-12-03 16:00:00 UTC+08:00" ("min", "ms": precision).

    zone=False leaves the zone out, for a page that names it once (the grid).
    """
    if value is None:
        return "—"
    return _text(timezone.localtime(value) if timezone.is_aware(value) else value, fmt, zone)


@register.filter
def utc(value: datetime | None, fmt: str = "") -> str:
    """`time_text` (the name is from when every page was in UTC): plain text in the user's zone, labelled."""
    return time_text(value, fmt)


@register.filter
def utc_ms(value: datetime | None) -> str:
    return time_text(value, "ms")


@register.filter
def when(value: datetime | None, fmt: str = "") -> str:
    """The time in the user's zone; in a zone other than UTC a <time datetime="ISO"> whose title is the UTC time.

    fmt: words joined by "-": "min" / "ms" (precision, default seconds); "bare": the zone is not named
    in the text (the column's heading names it); "time": a <time datetime> element in UTC too (where the
    page had one), else plain text in UTC, as the pages were before they had zones.
    """
    if value is None:
        return "—"
    words = set(fmt.split("-"))
    precision = "ms" if "ms" in words else "min" if "min" in words else ""
    local = timezone.localtime(value) if timezone.is_aware(value) else value
    shown = _text(local, precision, zone="bare" not in words)
    in_utc = value.astimezone(UTC) if timezone.is_aware(value) else value
    if timezone.get_current_timezone_name() != "UTC":
        title = f"{_text(in_utc, precision, zone=False)} UTC"
        return format_html('<time datetime="{}" title="{}">{}</time>', in_utc.isoformat(), title, shown)
    if "time" in words:
        return format_html('<time datetime="{}">{}</time>', in_utc.isoformat(), shown)
    return shown


@register.filter
def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


# Words shown for the status codes of run records and schedules (the codes stay in classes and data-*).
# Luigi's own event names (PENDING, DONE, ...) are shown as luigid writes them.
STATUS_LABELS = {
    "running": pgettext_lazy("run status", "running"),
    "done": pgettext_lazy("run status", "done"),
    "failed": pgettext_lazy("run status", "failed"),
    "killed": pgettext_lazy("run status", "killed"),
    "stale": pgettext_lazy("run status", "stale"),
    "warned": pgettext_lazy("run status", "warned"),  # a crawl's newest tick done with data-quality warnings
    "new": pgettext_lazy("schedule state", "new"),
    "up": pgettext_lazy("schedule state", "up"),
    "late": pgettext_lazy("schedule state", "late"),
    "down": pgettext_lazy("schedule state", "down"),
    "paused": pgettext_lazy("schedule state", "paused"),
    "silent": pgettext_lazy("daemon state", "silent"),
    "lost": pgettext_lazy("daemon state", "lost"),
}


# The monitor.css status-* class of each schedule state (new and paused: the plain grey badge).
STATE_BADGE = {"up": "done", "down": "failed", "late": "stale"}


# Why a schedule's state changed (ScheduleEvent.reason, webmon/scheduling/states.py).
REASON_LABELS = {
    "failed": pgettext_lazy("event reason", "failed"),
    "timed_out": pgettext_lazy("event reason", "timed out"),
    "missed": pgettext_lazy("event reason", "missed"),
    "recovered": pgettext_lazy("event reason", "recovered"),
    "success": pgettext_lazy("event reason", "success"),
    "late": pgettext_lazy("event reason", "late"),
    "paused": pgettext_lazy("event reason", "paused"),
    "resumed": pgettext_lazy("event reason", "resumed"),
    "data_quality": pgettext_lazy("event reason", "data quality"),
    "limit": pgettext_lazy("event reason", "limit reached"),
}


@register.filter
def reason_label(code: str | None) -> str:
    if not code:
        return "—"
    return str(REASON_LABELS.get(str(code), code))


@register.filter
def status_label(code: str | None) -> str:
    """The word for a status code in the active language; an unknown code as it is."""
    if not code:
        return "—"
    return str(STATUS_LABELS.get(str(code), code))


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@register.filter
def host_anchor(host: str) -> str:
    """The element id of a host's section on the Workers page: readable, distinct for every host name."""
    digest = hashlib.sha1(str(host).encode(), usedforsecurity=False).hexdigest()[:8]
    return f"host-{slugify(str(host))[:60] or 'unnamed'}-{digest}"
