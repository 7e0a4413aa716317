"""The admin of schedules: next five fire times, last runs, and Schedule.clean()'s sentences on the form."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client

from tests.scheduling.schedule_world import (  # noqa: F401
    T0,
    admin_client_fixture,
    fresh_fixture,
    make_run,
    make_schedule,
    manager_fixture,
)
from webmon.scheduling.forms import ScheduleAdminForm
from webmon.scheduling.models import Channel, ScheduledRun

pytestmark = pytest.mark.usefixtures("fresh")

GOOD: dict[str, Any] = {
    "name": "demo-daily",
    "crawl": "demo",
    "cron": "30 2 * * *",
    "timezone": "Europe/Berlin",
    "interval_seconds": "",
    "enabled": "on",
    "start_at_0": "2026-01-01",
    "start_at_1": "00:00:00",
    "end_at_0": "",
    "end_at_1": "",
    "catchup": "latest",
    "max_active_runs": "1",
    "overlap": "skip",
    "jitter_seconds": "0",
    "retries": "2",
    "retry_delay_seconds": "60",
    "retry_exponential": "on",
    "max_retry_delay_seconds": "3600",
    "timeout_seconds": "",
    "grace_seconds": "300",
    "params": "{}",
}


def test_the_changelist_lists_name_crawl_parameters_cadence_state_enabled_next_due(admin_client: Client) -> None:
    make_schedule("hourly", state="down", next_due=T0 + timedelta(hours=1), params={"max_pages": 5})
    make_schedule("quarterly", cron="", interval_seconds=900)
    make_schedule("backup-items", task="BackupDatabase", crawl="", task_params={"db": "items"})
    response = admin_client.get("/admin/scheduling/schedule/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "0 * * * * (UTC)" in body and "every 900 s" in body
    for column in (
        "column-name",
        "column-crawl",
        "column-parameters",
        "column-cadence",
        "column-state",
        "column-enabled",
        "column-next_due",
    ):
        assert column in body
    # One column for what a run gets: the spec overrides of a crawl, the parameters of another task.
    assert body.count('<th scope="col" class="sortable column-next_due') == 1
    assert '<td class="field-parameters">{&quot;max_pages&quot;: 5}</td>' in body
    assert '<td class="field-parameters">{&quot;db&quot;: &quot;items&quot;}</td>' in body
    # The next due time as every page writes times (ISO, naming its zone), not Django's "Nov. 21, 2026, 1 p.m.".
    assert '<td class="field-next_due_text">2026-11-21 13:00 UTC</td>' in body
    assert "p.m." not in body and "a.m." not in body


def test_the_change_page_shows_the_daemons_times_as_the_pages_do(admin_client: Client) -> None:
    schedule = make_schedule(next_due=T0 + timedelta(hours=1), last_tick=T0, last_success=T0 - timedelta(minutes=3))
    body = admin_client.get(f"/admin/scheduling/schedule/{schedule.pk}/change/").content.decode()
    assert "2026-11-21 13:00 UTC" in body and "2026-11-21 12:00 UTC" in body and "2026-11-21 11:57:00 UTC" in body
    assert "p.m." not in body and "a.m." not in body and "noon" not in body


def test_the_admin_sidebar_names_every_model_in_the_plural(admin_client: Client) -> None:
    body = admin_client.get("/admin/").content.decode()
    for plural in ("Deliveries", "Schedules", "Scheduled runs", "Schedule events", "Notification channels",
                   "Daemon heartbeats"):
        assert f">{plural}</a>" in body, plural
    assert "Deliverys" not in body


def test_the_change_page_shows_the_next_five_fire_times_and_the_last_runs(admin_client: Client) -> None:
    schedule = make_schedule(cron="30 2 * * *", timezone="Europe/Berlin")
    make_run(schedule, T0, ScheduledRun.FAILED, reason="exit code 30: boom")
    make_run(schedule, T0 - timedelta(days=1), ScheduledRun.SUCCESS)
    response = admin_client.get(f"/admin/scheduling/schedule/{schedule.pk}/change/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "next five fire times" in body.lower()
    assert body.count(" Europe/Berlin)</li>") == 5 and "02:30 Europe/Berlin" in body
    assert "2026-11-21 12:00 UTC</a> schedule: <strong>failed</strong> (exit code 30: boom)" in body
    assert "<strong>success</strong>" in body


def test_the_add_page_offers_the_loaded_crawls(admin_client: Client) -> None:
    body = admin_client.get("/admin/scheduling/schedule/add/").content.decode()
    assert '<option value="demo">demo</option>' in body
    assert "Shown once the schedule is saved." in body


def test_the_admin_saves_a_good_schedule(admin_client: Client) -> None:
    response = admin_client.post("/admin/scheduling/schedule/add/", GOOD)
    assert response.status_code == 302, response.context["adminform"].form.errors


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"cron": "61 * * * *"}, "cron", "Not a valid cron expression:"),
        (
            {"cron": "* * *"},
            "cron",
            "Not a valid cron expression: expected 5 fields (minute hour day month weekday), got 3.",
        ),
        (
            {"timezone": "Mars/Olympus"},
            "timezone",
            "Unknown timezone 'Mars/Olympus'; expected an IANA name such as Europe/Berlin.",
        ),
        (
            {"cron": "", "interval_seconds": ""},
            "cron",
            "Give either a cron expression or an interval, not both and not neither.",
        ),
        (
            {"interval_seconds": "600"},
            "cron",
            "Give either a cron expression or an interval, not both and not neither.",
        ),
        ({"cron": "", "interval_seconds": "30"}, "interval_seconds", "The interval is at least 60 seconds"),
        ({"end_at_0": "2025-12-31", "end_at_1": "00:00:00"}, "end_at", "The end must be after the start."),
        ({"params": "[1]"}, "params", 'Expected a JSON object, e.g. {"max_pages": 500}.'),
        ({"params": '{"Bad Key": 1}'}, "params", "Unknown override key 'Bad Key'"),
        ({"retries": "-1"}, "retries", "Ensure this value is greater than or equal to 0."),
        ({"crawl": "nope"}, "crawl", "Select a valid choice. nope is not one of the available choices."),
    ],
)
def test_bad_values_get_a_clear_message(
    admin_client: Client, changes: dict[str, str], field: str, message: str
) -> None:
    response = admin_client.post("/admin/scheduling/schedule/add/", {**GOOD, **changes})
    assert response.status_code == 200  # the form again, with its errors
    errors = response.context["adminform"].form.errors
    assert any(message in error for error in errors[field]), errors.as_text()


def test_a_schedule_whose_spec_is_gone_names_the_crawl(admin_client: Client) -> None:
    schedule = make_schedule(crawl="vanished")
    body = admin_client.get(f"/admin/scheduling/schedule/{schedule.pk}/change/").content.decode()
    assert '<option value="vanished" selected>vanished</option>' in body
    form = ScheduleAdminForm(instance=schedule, data={**GOOD, "crawl": "vanished", "start_at": "2026-01-01 00:00"})
    assert not form.is_valid()
    assert form.errors["crawl"] == [
        "Unknown or broken crawl: vanished: no crawl spec named 'vanished' in pipelines/crawls; known crawls: demo, demo-b"
    ]


@pytest.mark.parametrize("model", ["scheduledrun", "scheduleevent", "delivery", "daemonheartbeat", "channel"])
def test_the_other_admins_render(admin_client: Client, model: str) -> None:
    schedule = make_schedule()
    make_run(schedule, T0)
    Channel.objects.create(name="ops", kind="email", target="ops@example.com")
    assert admin_client.get(f"/admin/scheduling/{model}/").status_code == 200


def test_runs_are_read_only_in_the_admin(admin_client: Client) -> None:
    run = make_run(make_schedule(), T0)
    assert admin_client.get("/admin/scheduling/scheduledrun/add/").status_code == 403
    page = admin_client.get(f"/admin/scheduling/scheduledrun/{run.pk}/change/").content.decode()
    assert 'name="state"' not in page
