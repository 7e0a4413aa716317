"""Per-domain slots: concurrency, delay and AutoThrottle, with the clock passed in."""

from __future__ import annotations

from pipelines.fetch.politeness import Politeness
from pipelines.fetch.settings import FetchSettings


def test_a_host_never_gets_more_than_its_concurrency() -> None:
    p = Politeness(FetchSettings(concurrency=8, per_domain_concurrency=2))
    p.start("a", 0.0)
    p.start("a", 0.0)
    assert not p.can_start("a", 0.0)
    assert p.can_start("b", 0.0)
    p.finish("a", 0.1, ok=True)
    assert p.can_start("a", 0.0)


def test_the_delay_spaces_request_starts() -> None:
    p = Politeness(FetchSettings(delay=2.0, randomize_delay=False))
    p.start("a", 10.0)
    p.finish("a", 0.1, ok=True)
    assert not p.can_start("a", 11.9)
    assert p.can_start("a", 12.0)
    assert p.wake_time("a") == 12.0


def test_autothrottle_follows_latency_within_its_bounds() -> None:
    s = FetchSettings(autothrottle=True, delay=0.5, autothrottle_start_delay=1.0, autothrottle_max_delay=5.0,
                      autothrottle_target_concurrency=2.0)
    p = Politeness(s)
    assert p.slot("a").delay == 1.0
    for _ in range(20):  # a slow host: 8 s latency / 2 = 4 s target
        p.start("a", 0.0)
        p.finish("a", 8.0, ok=True)
    assert 3.9 < p.slot("a").delay <= 4.0
    for _ in range(20):  # a fast host again: down to the floor, never below [fetch] delay
        p.start("a", 0.0)
        p.finish("a", 0.01, ok=True)
    assert p.slot("a").delay == 0.5
    p.start("a", 0.0)
    p.finish("a", 20.0, ok=True)
    assert p.slot("a").delay == 5.0  # capped


def test_fast_errors_do_not_speed_the_crawl_up() -> None:
    p = Politeness(FetchSettings(autothrottle=True, autothrottle_start_delay=3.0))
    p.start("a", 0.0)
    p.finish("a", 0.001, ok=False)
    assert p.slot("a").delay == 3.0
