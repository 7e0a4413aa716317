"""POST actions of the schedule pages: CSRF, permission, and what each one creates or changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.utils import timezone

from tests.scheduling.schedule_world import (  # noqa: F401
    T0,
    admin_client_fixture,
    fresh_fixture,
    make_run,
    make_schedule,
    manager_fixture,
)
from webmon.scheduling.models import Schedule, ScheduledRun, ScheduleEvent

pytestmark = pytest.mark.usefixtures("fresh")

ACTIONS = ["pause", "resume", "trigger", "backfill", "runs/{run}/rerun"]


def url(schedule: Schedule, action: str, run: ScheduledRun | None = None) -> str:
    return f"/schedules/{schedule.pk}/{action.format(run=run.pk if run else 0)}/"


def said(response) -> list[str]:  # noqa: ANN001
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_refuse_get(manager: Client, action: str) -> None:
    schedule = make_schedule()
    run = make_run(schedule, T0, ScheduledRun.FAILED)
    assert manager.get(url(schedule, action, run)).status_code == 405


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_need_the_change_schedule_permission(client: Client, action: str) -> None:
    schedule = make_schedule()
    run = make_run(schedule, T0, ScheduledRun.FAILED)
    assert client.post(url(schedule, action, run), {"start": "2026-11-01", "end": "2026-11-01"}).status_code == 403
    assert Schedule.objects.get(pk=schedule.pk).state == "new" and ScheduledRun.objects.count() == 1


@pytest.mark.parametrize("action", ACTIONS)
def test_actions_need_the_csrf_token(manager: Client, action: str) -> None:
    checked = Client(enforce_csrf_checks=True)
    checked.cookies = manager.cookies
    schedule = make_schedule()
    run = make_run(schedule, T0, ScheduledRun.FAILED)
    assert checked.post(url(schedule, action, run)).status_code == 403


def test_actions_need_a_login(anonymous: Client) -> None:
    schedule = make_schedule()
    assert anonymous.post(url(schedule, "pause")).status_code == 302
    assert Schedule.objects.get(pk=schedule.pk).enabled


def test_pause_and_resume_record_events_and_go_back(manager: Client) -> None:
    schedule = make_schedule(state=Schedule.UP)
    response = manager.post(url(schedule, "pause"), {"next": "/schedules/"})
    assert response.status_code == 302 and response["Location"] == "/schedules/"
    row = Schedule.objects.get(pk=schedule.pk)
    assert (row.state, row.enabled) == ("paused", False)
    response = manager.post(url(schedule, "resume"))
    assert response["Location"] == f"/schedules/{schedule.pk}/"
    assert "ticks fire again from now on" in said(response)[-1]
    row = Schedule.objects.get(pk=schedule.pk)
    assert (row.state, row.enabled) == ("new", True)
    assert row.last_tick is not None and row.last_tick.second == 0 and row.last_tick <= timezone.now()
    assert list(ScheduleEvent.objects.order_by("id").values_list("reason", "detail")) == [
        ("paused", "paused by scheduler"),
        ("resumed", "resumed by scheduler"),
    ]


def test_next_may_not_leave_the_site(manager: Client) -> None:
    schedule = make_schedule()
    response = manager.post(url(schedule, "pause"), {"next": "https://evil.example.com/"})
    assert response["Location"] == f"/schedules/{schedule.pk}/"


def test_trigger_now_queues_one_manual_run_with_the_overrides(manager: Client) -> None:
    schedule = make_schedule(params={"max_pages": 100, "fetch.delay": 1})
    before = timezone.now()
    response = manager.post(url(schedule, "trigger"), {"overrides": '{"max_pages": 5}'})
    (run,) = ScheduledRun.objects.all()
    assert (run.trigger, run.state, run.attempts, run.not_before) == ("manual", "queued", 0, None)
    assert run.params == {"max_pages": 5, "fetch.delay": 1}  # the schedule's, with the given ones on top
    minute = run.logical_time
    assert minute.tzinfo is not None and minute.second == 0 and minute.microsecond == 0
    assert before.replace(second=0, microsecond=0) <= minute <= timezone.now()
    assert said(response) == [
        f'Queued a manual run of demo-hourly at {minute:%Y-%m-%d %H:%M} UTC with overrides {{"max_pages": 5}}.'
    ]


def test_trigger_now_twice_in_one_minute_says_so(manager: Client) -> None:
    schedule = make_schedule()
    now = timezone.now()
    make_run(schedule, now.replace(second=0, microsecond=0), "queued", trigger="manual")
    response = manager.post(url(schedule, "trigger"))
    if timezone.now().minute == now.minute:  # the minute may turn between the two lines
        assert ScheduledRun.objects.count() == 1
        assert "has a manual run at" in said(response)[0]


@pytest.mark.parametrize(
    "overrides, message",
    [
        ("{max_pages: 5}", "The overrides are not valid JSON: Expecting property name enclosed in double quotes"),
        ("[1, 2]", "The overrides must be a JSON object"),
        (
            '{"max_pages": "lots"}',
            "These overrides do not fit crawl demo: pipelines/crawls/demo.toml: max_pages: "
            "expected a whole number >= 1, got the string 'lots'",
        ),
        ('{"nope": 1}', "nope: unknown key; known keys are"),
    ],
)
def test_trigger_now_refuses_bad_overrides_with_a_sentence(manager: Client, overrides: str, message: str) -> None:
    schedule = make_schedule()
    response = manager.post(url(schedule, "trigger"), {"overrides": overrides})
    assert response.status_code == 302 and not ScheduledRun.objects.exists()
    (text,) = said(response)
    assert text.startswith("Not triggered: ") and message in text


def test_backfill_queues_a_run_per_tick_and_skips_ticks_that_have_one(manager: Client) -> None:
    schedule = make_schedule(cron="0 */6 * * *", params={"max_pages": 7})
    day = datetime(2026, 11, 1, tzinfo=UTC)
    make_run(schedule, day + timedelta(hours=6), trigger="schedule")
    make_run(schedule, day + timedelta(hours=12), "failed", trigger="manual")
    response = manager.post(url(schedule, "backfill"), {"start": "2026-11-01", "end": "2026-11-02"})
    backfill = ScheduledRun.objects.filter(trigger="backfill").order_by("logical_time")
    # Two whole days of 00, 06, 12, 18 h: eight ticks, two of them have a run.
    assert [r.logical_time for r in backfill] == [day + timedelta(hours=h) for h in (0, 18, 24, 30, 36, 42)]
    assert all(r.state == "queued" and r.params == {"max_pages": 7} for r in backfill)
    assert said(response) == ["Queued 6 backfill runs of demo-hourly; skipped 2 tick(s) that have a run already."]
    again = manager.post(url(schedule, "backfill"), {"start": "2026-11-01", "end": "2026-11-02"})
    assert said(again)[-1:] == ["Queued 0 backfill runs of demo-hourly; skipped 8 tick(s) that have a run already."]


def test_backfill_follows_the_cron_timezone_and_goes_before_the_start(manager: Client) -> None:
    schedule = make_schedule(cron="0 9 * * *", timezone="America/New_York", start_at=T0)
    manager.post(url(schedule, "backfill"), {"start": "2026-03-07", "end": "2026-03-08"})
    ticks = list(ScheduledRun.objects.order_by("logical_time").values_list("logical_time", flat=True))
    assert ticks == [datetime(2026, 3, 7, 14, tzinfo=UTC), datetime(2026, 3, 8, 13, tzinfo=UTC)]  # EST, then EDT


def test_backfill_of_an_interval_keeps_its_phase(manager: Client) -> None:
    schedule = make_schedule(cron="", interval_seconds=5400, start_at=datetime(2026, 11, 10, 0, 30, tzinfo=UTC))
    manager.post(url(schedule, "backfill"), {"start": "2026-11-01T00:00", "end": "2026-11-01T05:00"})
    ticks = list(ScheduledRun.objects.order_by("logical_time").values_list("logical_time", flat=True))
    assert [f"{t:%H:%M}" for t in ticks] == ["00:30", "02:00", "03:30", "05:00"]


@pytest.mark.parametrize(
    "start, end, message",
    [
        ("2026-01-01", "2026-03-01", "has more than 1,000 ticks; backfill at most 1,000 at a time (split the range)."),
        ("2026-11-02", "2026-11-01", "The end of the range is before its start."),
        ("yesterday", "2026-11-01", "'yesterday' is not a date or time; use ISO 8601"),
    ],
)
def test_backfill_refuses_bad_ranges_with_a_sentence(manager: Client, start: str, end: str, message: str) -> None:
    schedule = make_schedule()
    response = manager.post(url(schedule, "backfill"), {"start": start, "end": end})
    assert not ScheduledRun.objects.exists()
    (text,) = said(response)
    assert text.startswith("No backfill: ") and message in text


def test_rerun_resets_a_failed_run(manager: Client) -> None:
    schedule = make_schedule()
    run = make_run(
        schedule,
        T0,
        "timed_out",
        attempts=3,
        exit_code=None,
        pid=77,
        started_at=T0,
        finished_at=T0 + timedelta(hours=1),
        reason="timed out after 3600 s",
    )
    response = manager.post(url(schedule, "runs/{run}/rerun", run))
    run.refresh_from_db()
    assert (run.state, run.attempts, run.pid, run.started_at, run.finished_at, run.reason) == (
        "queued",
        0,
        None,
        None,
        None,
        "rerun by scheduler",
    )
    assert said(response) == ["Queued the run of 2026-11-21 12:00 UTC again."]
    assert ScheduledRun.objects.count() == 1


def test_rerun_refuses_a_run_that_did_not_fail(manager: Client) -> None:
    schedule = make_schedule()
    run = make_run(schedule, T0, "success")
    response = manager.post(url(schedule, "runs/{run}/rerun", run))
    assert ScheduledRun.objects.get(pk=run.pk).state == "success"
    assert said(response) == [
        "The run of 2026-11-21 12:00 UTC is success: only failed and timed-out runs can be rerun."
    ]


def test_the_page_offers_rerun_on_failed_runs_only(manager: Client) -> None:
    schedule = make_schedule()
    make_run(schedule, T0, "failed")
    make_run(schedule, T0 - timedelta(hours=1), "timed_out")
    make_run(schedule, T0 - timedelta(hours=2), "success")
    body = manager.get(f"/schedules/{schedule.pk}/").content.decode()
    assert body.count(">Rerun</button>") == 2
