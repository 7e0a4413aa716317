"""states.py: the transition rules as a table, and what record_outcome / mark_late / pause / resume write."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.scheduling.schedule_world import (  # noqa: F401
    T0,
    admin_client_fixture,
    fresh_fixture,
    make_run,
    make_schedule,
    manager_fixture,
)
from webmon.scheduling import states
from webmon.scheduling.models import Schedule, ScheduledRun, ScheduleEvent

NEW, UP, LATE, DOWN, PAUSED = "new", "up", "late", "down", "paused"
SUCCESS, FAILED, TIMED_OUT, SKIPPED, RUNNING, QUEUED = "success", "failed", "timed_out", "skipped", "running", "queued"

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.mark.parametrize(
    "state, run_state, run_reason, expected",
    [
        (NEW, SUCCESS, "", (UP, "success")),
        (LATE, SUCCESS, "", (UP, "success")),
        (DOWN, SUCCESS, "", (UP, "recovered")),
        (UP, SUCCESS, "", None),
        (PAUSED, SUCCESS, "", None),
        (NEW, FAILED, "exit code 30", (DOWN, "failed")),
        (UP, FAILED, "exit code 30", (DOWN, "failed")),
        (LATE, FAILED, "exit code 30", (DOWN, "failed")),
        (DOWN, FAILED, "exit code 30", None),
        (PAUSED, FAILED, "exit code 30", None),
        (UP, TIMED_OUT, "timed out after 60 s", (DOWN, "timed_out")),
        (DOWN, TIMED_OUT, "", None),
        (UP, SKIPPED, "missed", (DOWN, "missed")),
        (NEW, SKIPPED, "missed", (DOWN, "missed")),
        (PAUSED, SKIPPED, "missed", None),
        (UP, SKIPPED, "overlap: 1 run(s) still active", None),
        (UP, RUNNING, "", None),
        (UP, QUEUED, "", None),
    ],
)
def test_outcome_transitions(state: str, run_state: str, run_reason: str, expected: tuple[str, str] | None) -> None:
    assert states.outcome_transition(state, run_state, run_reason) == expected


@pytest.mark.parametrize(
    "state, expected", [(NEW, (LATE, "late")), (UP, (LATE, "late")), (LATE, None), (DOWN, None), (PAUSED, None)]
)
def test_late_transitions(state: str, expected: tuple[str, str] | None) -> None:
    assert states.late_transition(state) == expected


def test_a_failed_run_takes_an_up_schedule_down_with_its_error_line() -> None:
    schedule = make_schedule(state=UP)
    run = make_run(schedule, T0, FAILED, reason="exit code 30: a task failed: ConnectionError: refused")
    event = states.record_outcome(schedule, run, T0 + timedelta(minutes=3))
    assert event is not None
    assert (event.old_state, event.new_state, event.reason) == (UP, DOWN, "failed")
    assert event.detail == "exit code 30: a task failed: ConnectionError: refused"
    assert event.run == run and event.at == T0 + timedelta(minutes=3) and event.notified_at is None
    assert Schedule.objects.get(pk=schedule.pk).state == DOWN and schedule.state == DOWN


def test_a_second_failure_while_down_records_nothing() -> None:
    schedule = make_schedule(state=DOWN)
    run = make_run(schedule, T0, FAILED, reason="exit code 30")
    assert states.record_outcome(schedule, run, T0) is None
    assert not ScheduleEvent.objects.exists()


def test_a_success_after_down_is_a_recovery() -> None:
    schedule = make_schedule(state=DOWN)
    event = states.record_outcome(schedule, make_run(schedule, T0, SUCCESS), T0)
    assert event is not None and (event.new_state, event.reason, event.detail) == (UP, "recovered", "")


def test_it_decides_on_the_rows_state_not_a_stale_object() -> None:
    schedule = make_schedule(state=UP)
    stale = Schedule.objects.get(pk=schedule.pk)
    Schedule.objects.filter(pk=schedule.pk).update(state=PAUSED)  # an operator paused it meanwhile
    assert states.record_outcome(stale, make_run(schedule, T0, FAILED, reason="x"), T0) is None
    assert Schedule.objects.get(pk=schedule.pk).state == PAUSED


def test_only_one_of_two_racing_writers_records_the_change() -> None:
    schedule = make_schedule(state=UP)
    run = make_run(schedule, T0, FAILED, reason="boom")
    assert states._change(schedule, UP, DOWN, "failed", "boom", run, T0) is not None
    # The second writer read "up" too, but its conditional UPDATE finds "down": no second event.
    assert states._change(schedule, UP, DOWN, "failed", "boom", run, T0) is None
    assert ScheduleEvent.objects.count() == 1


def test_a_timed_out_run_without_a_reason_says_so() -> None:
    schedule = make_schedule(state=UP)
    event = states.record_outcome(schedule, make_run(schedule, T0, TIMED_OUT), T0)
    assert event is not None and event.detail == "the run did not finish within its timeout"


def test_a_long_traceback_gives_its_last_line_cut_to_500_characters() -> None:
    schedule = make_schedule(state=UP)
    reason = "Traceback (most recent call last):\n  File x\nValueError: " + "v" * 900
    event = states.record_outcome(schedule, make_run(schedule, T0, FAILED, reason=reason), T0)
    assert event is not None and event.detail.startswith("ValueError: vvv") and len(event.detail) == 500


def test_late_is_recorded_once_and_without_a_run() -> None:
    schedule = make_schedule(state=UP)
    event = states.mark_late(schedule, T0)
    assert event is not None and (event.old_state, event.new_state, event.reason, event.run) == (UP, LATE, "late", None)
    assert states.mark_late(schedule, T0) is None


def test_pause_disables_and_records_who() -> None:
    schedule = make_schedule(state=UP)
    event = states.pause(schedule, T0, "alice")
    assert event is not None and (event.new_state, event.reason, event.detail) == (PAUSED, "paused", "paused by alice")
    row = Schedule.objects.get(pk=schedule.pk)
    assert (row.state, row.enabled) == (PAUSED, False)
    assert states.pause(schedule, T0, "alice") is None


@pytest.mark.parametrize(
    "runs, expected",
    [([], NEW), ([SUCCESS], UP), ([SUCCESS, FAILED], DOWN), ([FAILED, SUCCESS], UP), ([SUCCESS, SKIPPED], UP)],
)
def test_resume_takes_the_state_the_runs_say(runs: list[str], expected: str) -> None:
    schedule = make_schedule(state=UP)
    for i, state in enumerate(runs):  # oldest first; a plain skip (overlap) says nothing
        make_run(
            schedule,
            T0 + timedelta(hours=i),
            state,
            finished_at=T0 + timedelta(hours=i, minutes=5),
            reason="overlap" if state == SKIPPED else "",
        )
    states.pause(schedule, T0, "alice")
    now = T0 + timedelta(days=1, seconds=42)
    event = states.resume(schedule, now, "bob")
    assert event is not None and (event.old_state, event.new_state, event.reason) == (PAUSED, expected, "resumed")
    row = Schedule.objects.get(pk=schedule.pk)
    assert row.enabled and row.state == expected
    # Ticks that fell due while paused are not fired: the daemon plans from this minute on.
    assert row.last_tick == (now - timedelta(seconds=42)) and row.next_due == now - timedelta(seconds=42) + timedelta(
        hours=1
    )


def test_rerun_requeues_a_failed_run_in_the_same_row() -> None:
    schedule = make_schedule()
    run = make_run(
        schedule,
        T0,
        FAILED,
        attempts=3,
        exit_code=30,
        pid=123,
        claimed_by="h:1",
        reason="boom",
        started_at=T0,
        finished_at=T0 + timedelta(minutes=1),
        not_before=T0,
    )
    assert states.rerun(run, "carol")
    row = ScheduledRun.objects.get(pk=run.pk)
    assert (
        row.state,
        row.attempts,
        row.exit_code,
        row.pid,
        row.started_at,
        row.finished_at,
        row.not_before,
        row.claimed_by,
        row.reason,
    ) == (QUEUED, 0, None, None, None, None, None, "", "rerun by carol")
    assert not states.rerun(row, "carol")  # queued now: not rerun twice
