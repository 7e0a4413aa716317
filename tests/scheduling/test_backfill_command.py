"""`manage.py backfill SCHEDULE --start --end [--dry-run]`."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from tests.scheduling.schedule_world import (  # noqa: F401
    admin_client_fixture,
    fresh_fixture,
    make_run,
    make_schedule,
    manager_fixture,
)
from webmon.scheduling.models import ScheduledRun

pytestmark = pytest.mark.usefixtures("fresh")

DAY = datetime(2026, 11, 1, tzinfo=UTC)


def backfill(*args: str) -> str:
    out = StringIO()
    call_command("backfill", *args, stdout=out)
    return out.getvalue()


def test_it_queues_a_run_per_tick_and_reports_the_skipped_ones() -> None:
    schedule = make_schedule("six-hourly", cron="0 */6 * * *")
    make_run(schedule, DAY + timedelta(hours=6))
    out = backfill("six-hourly", "--start", "2026-11-01", "--end", "2026-11-02T12:00")
    assert out == "queued 6 backfill runs of six-hourly (1 ticks skipped: they have a run already)\n"
    ticks = (
        ScheduledRun.objects.filter(trigger="backfill").order_by("logical_time").values_list("logical_time", flat=True)
    )
    assert list(ticks) == [DAY + timedelta(hours=h) for h in (0, 12, 18, 24, 30, 36)]


def test_a_dry_run_prints_the_ticks_and_creates_nothing() -> None:
    schedule = make_schedule("berlin", cron="30 2 * * *", timezone="Europe/Berlin")
    make_run(schedule, datetime(2026, 10, 25, 0, 30, tzinfo=UTC))
    out = backfill(str(schedule.pk), "--start", "2026-10-24", "--end", "2026-10-26", "--dry-run")
    assert out.splitlines() == [
        "2026-10-24T00:30Z  2026-10-24 02:30 Europe/Berlin",
        "2026-10-25T00:30Z  2026-10-25 02:30 Europe/Berlin  (has a run: skipped)",  # fall-back day: once
        "2026-10-26T01:30Z  2026-10-26 02:30 Europe/Berlin",
        "dry run: 3 ticks of berlin, 1 have a run already; would queue 2 backfill runs",
    ]
    assert ScheduledRun.objects.count() == 1


def test_an_offset_is_honoured_and_no_offset_means_utc() -> None:
    make_schedule("hourly")
    out = backfill("hourly", "--start", "2026-11-01T10:00+02:00", "--end", "2026-11-01T09:00", "--dry-run")
    assert out.splitlines()[:2] == ["2026-11-01T08:00Z", "2026-11-01T09:00Z"]


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["nope", "--start", "2026-11-01", "--end", "2026-11-02"],
            "No schedule named or numbered 'nope'; schedules: hourly.",
        ),
        (
            ["hourly", "--start", "2026-13-01", "--end", "2026-11-02"],
            "'2026-13-01' is not a date or time; use ISO 8601",
        ),
        (["hourly", "--start", "2026-11-02", "--end", "2026-11-01"], "The end of the range is before its start."),
        (
            ["hourly", "--start", "2026-01-01", "--end", "2026-12-31"],
            "hourly has more than 1,000 ticks; backfill at most 1,000 at a time (split the range).",
        ),
    ],
)
def test_it_refuses_with_a_sentence(args: list[str], message: str) -> None:
    make_schedule("hourly")
    with pytest.raises(CommandError) as error:
        backfill(*args)
    assert message in str(error.value)
    assert not ScheduledRun.objects.exists()
