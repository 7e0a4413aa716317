"""Template filters of the monitor: ages, durations, statuses. All return plain text (autoescaped)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

from django import template
from django.utils.text import slugify

from webmon.monitor.clock import Clock

register = template.Library()


def human(seconds: float) -> str:
    """12.3 s, 4 min 05 s, 2 h 03 min, 3 d 04 h."""
    seconds = max(seconds, 0.0)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours:02d} h"


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
        return f"in {human(-seconds)}"
    return f"{human(seconds)} ago"


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


@register.filter
def utc(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "—"


@register.filter
def utc_ms(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC" if value else "—"


@register.filter
def iso(value: datetime | None) -> str:
    return value.isoformat() if value else ""


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


@register.filter
def host_anchor(host: str) -> str:
    """The element id of a host's section on the Workers page: readable, distinct for every host name."""
    digest = hashlib.sha1(str(host).encode(), usedforsecurity=False).hexdigest()[:8]
    return f"host-{slugify(str(host))[:60] or 'unnamed'}-{digest}"
