"""Per-domain politeness: how many requests to a host at once, and how far apart.

Reads [fetch] per_domain_concurrency, delay, randomize_delay, autothrottle,
autothrottle_target_concurrency, autothrottle_start_delay,
autothrottle_max_delay.

This lives in the crawler's scheduler, not in a middleware: a middleware that
waits would hold a worker thread while it sleeps, and could not release its
slot on every path. The coordinator asks `can_start` before it hands a
request to a thread and calls `finish` when the result comes back.

AutoThrottle follows Scrapy's rule: aim at `target_concurrency` requests in
flight per host, so the delay moves halfway towards latency / target each
time; it never drops below [fetch] delay nor rises above the maximum, and an
error response can only raise it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from pipelines.fetch.settings import FetchSettings


@dataclass
class Slot:
    delay: float
    active: int = 0
    next_start: float = 0.0


class Politeness:
    def __init__(self, settings: FetchSettings) -> None:
        self.settings = settings
        self.concurrency = settings.domain_concurrency
        start = settings.delay
        if settings.autothrottle:
            start = max(settings.delay, settings.autothrottle_start_delay)
        self._start_delay = start
        self.slots: dict[str, Slot] = {}

    def slot(self, host: str) -> Slot:
        slot = self.slots.get(host)
        if slot is None:
            slot = self.slots[host] = Slot(self._start_delay)
        return slot

    def can_start(self, host: str, now: float) -> bool:
        slot = self.slot(host)
        return slot.active < self.concurrency and now >= slot.next_start

    def wake_time(self, host: str) -> float | None:
        """When `host` may start its next request, or None while it is at full concurrency."""
        slot = self.slot(host)
        return None if slot.active >= self.concurrency else slot.next_start

    def start(self, host: str, now: float) -> None:
        slot = self.slot(host)
        slot.active += 1
        if slot.delay > 0:
            gap = slot.delay * (random.uniform(0.5, 1.5) if self.settings.randomize_delay else 1.0)
            slot.next_start = now + gap

    def finish(self, host: str, latency: float | None, ok: bool) -> None:
        slot = self.slot(host)
        slot.active -= 1
        if self.settings.autothrottle and latency is not None:
            self._adjust(slot, latency, ok)

    def _adjust(self, slot: Slot, latency: float, ok: bool) -> None:
        s = self.settings
        target = latency / s.autothrottle_target_concurrency
        new = max(target, (slot.delay + target) / 2)
        new = min(max(s.delay, new), s.autothrottle_max_delay)
        if not ok and new <= slot.delay:
            return  # errors come back fast; never let them speed the crawl up
        slot.delay = new
