"""Every change of a schedule's state, with its reason (Healthchecks' semantics).

A schedule is `new` until its first outcome, `up` after a success, `late` when
a tick's grace period passed without a success, `down` after a failed,
timed-out or missed run, and `paused` while an operator has paused it. The
trigger daemon calls `record_outcome` when a run reaches a final state and
`mark_late` when a tick is overdue; the web pages call `pause`, `resume` and
`rerun`. Each change is one conditional UPDATE (`filter(pk=, state=old)`), so
two daemons on one database cannot both record it, and a ScheduleEvent is
written only when that UPDATE hit a row. Events with new state `down` or
reason `recovered` are the ones notify.send_pending() sends.

The rules themselves are `outcome_transition` and `late_transition`: pure
functions of (current state, run), tested as a table.
"""

from __future__ import annotations

from datetime import UTC, datetime

from django.db import transaction
from django.db.models import Q

from webmon.scheduling.models import Schedule, ScheduledRun, ScheduleEvent

# Reasons of ScheduleEvent rows.
FAILED, TIMED_OUT, MISSED, RECOVERED, SUCCESS, LATE, PAUSED, RESUMED = (
    "failed",
    "timed_out",
    "missed",
    "recovered",
    "success",
    "late",
    "paused",
    "resumed",
)
DETAIL_MAX = 500  # an error line is cut here: it goes into emails and chat messages


def outcome_transition(state: str, run_state: str, run_reason: str = "") -> tuple[str, str] | None:
    """(new state, reason) after a run ended in `run_state`, or None when nothing changes.

    Paused stays paused whatever the outcome (a manual run may end while paused);
    `resume` derives the state from the runs instead.
    """
    if state == Schedule.PAUSED:
        return None
    if run_state == ScheduledRun.SUCCESS:
        if state == Schedule.UP:
            return None
        return Schedule.UP, RECOVERED if state == Schedule.DOWN else SUCCESS
    if run_state == ScheduledRun.FAILED:
        reason = FAILED
    elif run_state == ScheduledRun.TIMED_OUT:
        reason = TIMED_OUT
    elif run_state == ScheduledRun.SKIPPED and run_reason == MISSED:
        reason = MISSED
    else:  # queued, running, or skipped because another run was active
        return None
    return None if state == Schedule.DOWN else (Schedule.DOWN, reason)


def late_transition(state: str) -> tuple[str, str] | None:
    """(new state, reason) when a tick's grace period passed without a success."""
    if state in (Schedule.NEW, Schedule.UP):
        return Schedule.LATE, LATE
    return None


def record_outcome(schedule: Schedule, run: ScheduledRun, now: datetime) -> ScheduleEvent | None:
    """Record the state change caused by `run`'s final state; the event, or None if the state stays.

    Reads the schedule's current state (one SELECT), and on a change writes it with
    one conditional UPDATE plus the event. `last_success` is the daemon's to set.
    """
    current = _current_state(schedule)
    change = outcome_transition(current, run.state, run.reason)
    if change is None:
        return None
    new_state, reason = change
    detail = "" if run.state == ScheduledRun.SUCCESS else _detail(run)
    return _change(schedule, current, new_state, reason, detail, run, now)


def mark_late(schedule: Schedule, now: datetime) -> ScheduleEvent | None:
    """up/new -> late (no notice is sent for late); the event, or None."""
    current = _current_state(schedule)
    change = late_transition(current)
    if change is None:
        return None
    return _change(schedule, current, change[0], change[1], "", None, now)


def state_from_runs(schedule: Schedule) -> str:
    """What a resumed schedule is: new without outcomes, else up or down after its newest outcome."""
    newest = (
        schedule.runs.filter(
            Q(state__in=(ScheduledRun.SUCCESS, ScheduledRun.FAILED, ScheduledRun.TIMED_OUT))
            | Q(state=ScheduledRun.SKIPPED, reason=MISSED)
        )
        .order_by("-finished_at", "-logical_time", "-id")
        .values_list("state", flat=True)
        .first()
    )
    if newest is None:
        return Schedule.NEW
    return Schedule.UP if newest == ScheduledRun.SUCCESS else Schedule.DOWN


def pause(schedule: Schedule, now: datetime, by: str) -> ScheduleEvent | None:
    """Stop firing ticks: enabled off, state paused. None if it was paused already."""
    current = _current_state(schedule)
    if current == Schedule.PAUSED:
        return None
    return _change(schedule, current, Schedule.PAUSED, PAUSED, f"paused by {by}", None, now, enabled=False)


def resume(schedule: Schedule, now: datetime, by: str) -> ScheduleEvent | None:
    """Fire ticks again from now on; the ticks that fell due while paused are not fired.

    `last_tick` becomes this minute, so the daemon's catch-up sees nothing missed:
    catch-up covers the daemon's downtime, not a pause an operator chose.
    """
    current = _current_state(schedule)
    if current != Schedule.PAUSED:
        return None
    minute = now.astimezone(UTC).replace(second=0, microsecond=0)
    upcoming = schedule.upcoming(minute, 1) if _has_cadence(schedule) else []
    return _change(
        schedule,
        current,
        state_from_runs(schedule),
        RESUMED,
        f"resumed by {by}",
        None,
        now,
        enabled=True,
        last_tick=minute,
        next_due=upcoming[0] if upcoming else None,
    )


def rerun(run: ScheduledRun, by: str) -> bool:
    """Queue a failed or timed-out run again (same row, attempts from 0). False if it is not failed now."""
    fields = dict(
        state=ScheduledRun.QUEUED,
        attempts=0,
        exit_code=None,
        pid=None,
        started_at=None,
        finished_at=None,
        not_before=None,
        claimed_by="",
        reason=f"rerun by {by}",
    )
    hit = ScheduledRun.objects.filter(pk=run.pk, state__in=(ScheduledRun.FAILED, ScheduledRun.TIMED_OUT)).update(
        **fields
    )
    if hit:
        for name, value in fields.items():
            setattr(run, name, value)
    return bool(hit)


def _current_state(schedule: Schedule) -> str:
    # The caller's object may be minutes old (a daemon loop, a page): decide on the row's state.
    state = Schedule.objects.filter(pk=schedule.pk).values_list("state", flat=True).first()
    if state is None:
        raise Schedule.DoesNotExist(f"schedule {schedule.pk} was deleted")
    schedule.state = state
    return state


def _change(
    schedule: Schedule,
    old: str,
    new: str,
    reason: str,
    detail: str,
    run: ScheduledRun | None,
    now: datetime,
    **fields: object,
) -> ScheduleEvent | None:
    with transaction.atomic():
        hit = Schedule.objects.filter(pk=schedule.pk, state=old).update(state=new, **fields)
        if not hit:  # someone else changed it first: their event stands
            return None
        event = ScheduleEvent.objects.create(
            schedule=schedule, at=now, old_state=old, new_state=new, reason=reason, detail=detail, run=run
        )
    schedule.state = new
    for name, value in fields.items():
        setattr(schedule, name, value)
    return event


def _detail(run: ScheduledRun) -> str:
    lines = [line.strip() for line in (run.reason or "").splitlines() if line.strip()]
    line = lines[-1] if lines else ""
    if not line and run.state == ScheduledRun.TIMED_OUT:
        line = "the run did not finish within its timeout"
    if not line and run.exit_code is not None:
        line = f"exit code {run.exit_code}"
    return line if len(line) <= DETAIL_MAX else line[: DETAIL_MAX - 1] + "…"


def _has_cadence(schedule: Schedule) -> bool:
    return bool(schedule.cron.strip()) != bool(schedule.interval_seconds)
