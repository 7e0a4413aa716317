"""The time a page is rendered at, and the rules that depend on it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone


@dataclass(frozen=True)
class Clock:
    now: datetime
    stale_after: timedelta

    @classmethod
    def current(cls) -> Clock:
        return cls(timezone.now(), timedelta(seconds=settings.WEBMON_STALE_AFTER_S))
