"""Tick arithmetic with an injected clock: DST, month ends, */5, catch-up policies."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from webmon.scheduling.ticks import Cadence, cron_error, due_ticks, next_ticks, ticks_between, timezone_error

UTC = UTC
START = datetime(2020, 1, 1, tzinfo=UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_a_daily_time_inside_the_berlin_spring_gap_fires_after_the_gap() -> None:
    cadence = Cadence(START, cron="30 2 * * *", tz="Europe/Berlin")
    ticks = next_ticks(cadence, utc(2026, 3, 27, 12, 0), 3)
    # 28 March 02:30 CET = 01:30 UTC; 29 March 02:30 does not exist -> 03:00 CEST = 01:00 UTC
    assert ticks == [utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 30)]


def test_a_daily_time_inside_the_berlin_fall_back_hour_fires_once() -> None:
    cadence = Cadence(START, cron="30 2 * * *", tz="Europe/Berlin")
    ticks = next_ticks(cadence, utc(2026, 10, 24, 12, 0), 2)
    assert ticks == [utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)]


def test_an_hourly_schedule_in_new_york_has_23_and_25_hour_days() -> None:
    cadence = Cadence(START, cron="15 * * * *", tz="America/New_York")
    spring = ticks_between(cadence, utc(2026, 3, 8, 5, 0), utc(2026, 3, 9, 4, 0))  # local day 8 March
    fall = ticks_between(cadence, utc(2026, 11, 1, 4, 0), utc(2026, 11, 2, 5, 0))  # local day 1 November
    assert len(spring) == 23 and len(fall) == 25
    assert len(set(fall)) == 25  # both 01:15s are real, distinct minutes


def test_9am_in_new_york_stays_9am_local_across_dst() -> None:
    cadence = Cadence(START, cron="0 9 * * *", tz="America/New_York")
    before, after = next_ticks(cadence, utc(2026, 3, 7, 0, 0), 2)
    assert before == utc(2026, 3, 7, 14, 0) and after == utc(2026, 3, 8, 13, 0)


def test_month_ends() -> None:
    cadence = Cadence(START, cron="0 0 31 * *")
    assert next_ticks(cadence, utc(2026, 1, 31, 1, 0), 2) == [utc(2026, 3, 31), utc(2026, 5, 31)]
    last_day = Cadence(START, cron="0 12 28-31 2 *")
    assert [t.day for t in next_ticks(last_day, utc(2028, 2, 27), 3)] == [27 + 1, 29, 28]


def test_every_five_minutes() -> None:
    cadence = Cadence(START, cron="*/5 * * * *")
    assert next_ticks(cadence, utc(2026, 1, 1, 0, 3), 3) == [
        utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 15)]
    assert next_ticks(cadence, utc(2026, 1, 1, 0, 5), 1) == [utc(2026, 1, 1, 0, 10)]  # strictly after


def test_an_interval_counts_from_the_start_and_stops_at_the_end() -> None:
    cadence = Cadence(utc(2026, 1, 1, 0, 7), interval=timedelta(minutes=30), end=utc(2026, 1, 1, 2, 0))
    assert ticks_between(cadence, utc(2025, 1, 1), utc(2027, 1, 1)) == [
        utc(2026, 1, 1, 0, 7), utc(2026, 1, 1, 0, 37), utc(2026, 1, 1, 1, 7), utc(2026, 1, 1, 1, 37)]


THREE_MISSED = (utc(2026, 1, 1, 0, 5), utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 15))


@pytest.mark.parametrize(("policy", "fire", "missed"), [
    ("all", list(THREE_MISSED), []),
    ("latest", [THREE_MISSED[-1]], list(THREE_MISSED[:2])),
    ("none", [], list(THREE_MISSED)),
])
def test_three_missed_ticks_under_each_catch_up_policy(policy: str, fire: list, missed: list) -> None:
    cadence = Cadence(START, cron="*/5 * * * *")
    now = utc(2026, 1, 1, 0, 17)  # the newest missed tick is 2 minutes old
    due = due_ticks(cadence, utc(2026, 1, 1, 0, 0), now, policy, grace=timedelta(minutes=1))
    assert (due.fire, due.missed) == (fire, missed)


def test_catch_up_none_fires_a_tick_that_is_still_fresh() -> None:
    cadence = Cadence(START, cron="*/5 * * * *")
    due = due_ticks(cadence, utc(2026, 1, 1, 0, 0), utc(2026, 1, 1, 0, 5, 30), "none", grace=timedelta(minutes=1))
    assert due.fire == [utc(2026, 1, 1, 0, 5)] and due.missed == []


def test_a_new_schedule_starts_at_its_start_date() -> None:
    cadence = Cadence(utc(2026, 1, 1, 0, 9), cron="*/5 * * * *")
    due = due_ticks(cadence, None, utc(2026, 1, 1, 0, 16), "all", grace=timedelta(minutes=1))
    assert due.fire == [utc(2026, 1, 1, 0, 10), utc(2026, 1, 1, 0, 15)]


@pytest.mark.parametrize(("expr", "ok"), [("*/5 * * * *", True), ("0 9 * * 1-5", True), ("61 * * * *", False),
                                          ("* * *", False), ("every day", False)])
def test_cron_expressions_are_checked(expr: str, ok: bool) -> None:
    assert (cron_error(expr) is None) == ok


def test_timezones_are_checked() -> None:
    assert timezone_error("Europe/Berlin") is None
    assert "unknown timezone 'Mars/Olympus'" in timezone_error("Mars/Olympus")
