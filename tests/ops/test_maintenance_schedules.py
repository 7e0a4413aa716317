"""Default maintenance schedules, their validation and the commands the trigger daemon builds for them."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management import call_command

from webmon.scheduling.daemon import Trigger
from webmon.scheduling.models import Schedule, ScheduledRun

DEFAULTS = {
    "backup-history": ("BackupDatabase", {"db": "history"}, "0 2 * * *"),
    "backup-items": ("BackupDatabase", {"db": "items"}, "0 2 * * *"),
    "backup-webmon": ("BackupDatabase", {"db": "webmon"}, "0 2 * * *"),
    "prune-history": ("PruneHistory", {"older_than_days": 90}, "0 3 * * 0"),
}


@pytest.fixture(autouse=True)
def _empty(webmon_db: None) -> None:
    Schedule.objects.all().delete()


def test_created_once_and_edits_stand() -> None:
    call_command("ensure_maintenance_schedules", verbosity=0)
    got = {s.name: (s.task, s.task_params, s.cron) for s in Schedule.objects.all()}
    assert got == DEFAULTS
    assert all(s.timezone == "UTC" and s.crawl == "" and s.enabled for s in Schedule.objects.all())
    Schedule.objects.filter(name="backup-items").update(cron="30 1 * * *", enabled=False)
    Schedule.objects.filter(name="prune-history").delete()
    call_command("ensure_maintenance_schedules", verbosity=0)
    assert Schedule.objects.count() == 4
    items = Schedule.objects.get(name="backup-items")
    assert (items.cron, items.enabled) == ("30 1 * * *", False)  # not overwritten
    assert Schedule.objects.get(name="prune-history").task_params == {"older_than_days": 90}  # back


def make_run(schedule: Schedule) -> ScheduledRun:
    schedule.save()
    return ScheduledRun.objects.create(schedule=schedule, logical_time=datetime(2026, 11, 22, 2, 0, tzinfo=UTC))


def test_the_daemon_builds_a_backup_command() -> None:
    run = make_run(Schedule(name="b", task="BackupDatabase", task_params={"db": "items"}, cron="0 2 * * *"))
    assert Trigger(name="t").default_command(run) == [
        sys.executable, "-m", "luigi", "--module", "pipelines.maintenance.tasks", "BackupDatabase",
        "--db", "items", "--date", "2026-11-22", "--scheduler-url", settings.LUIGID_URL]


def test_the_daemon_builds_a_prune_command() -> None:
    run = make_run(Schedule(name="p", task="PruneHistory", task_params={"older_than_days": 90}, cron="0 3 * * 0"))
    assert Trigger(name="t").default_command(run) == [
        sys.executable, "-m", "luigi", "--module", "pipelines.maintenance.tasks", "PruneHistory",
        "--older-than-days", "90", "--date", "2026-11-22", "--scheduler-url", settings.LUIGID_URL]


def test_the_daemon_still_builds_a_crawl_command() -> None:
    run = make_run(Schedule(name="c", crawl="demo", cron="*/15 * * * *"))
    assert Trigger(name="t").default_command(run) == [
        sys.executable, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl",
        "--crawl", "demo", "--at", "2026-11-22T0200", "--scheduler-url", settings.LUIGID_URL]


@pytest.mark.parametrize(("fields", "field", "sentence"), [
    ({"task": "BackupDatabase", "task_params": {"db": "nope"}}, "task_params",
     'db: expected one of history, items, webmon, got "nope".'),
    ({"task": "BackupDatabase", "task_params": {}}, "task_params",
     "BackupDatabase needs db (one of history, items, webmon): add it to the task parameters."),
    ({"task": "PruneHistory", "task_params": {"older_than_days": 0}}, "task_params",
     "older_than_days: expected a whole number in [1, 36500], got 0."),
    ({"task": "PruneHistory", "task_params": {"older_than_days": "ninety"}}, "task_params",
     'older_than_days: expected a whole number in [1, 36500], got "ninety".'),
    ({"task": "PruneHistory", "task_params": {"older_than_day": 9}}, "task_params",
     "PruneHistory has no parameter 'older_than_day'; its parameters: older_than_days, batch_size, pause."),
    ({"task": "PruneHistory", "task_params": {"date": "2026-11-01"}}, "task_params",
     "date is the tick: the daemon passes each run's day as --date; leave it out of the task parameters."),
    ({"task": "PruneHistory", "task_params": {"older_than_days": 9}, "params": {"max_pages": 5}}, "params",
     "Spec overrides are for crawls only"),
    ({"task": "RunCrawl"}, "crawl", "A RunCrawl schedule needs a crawl."),
    ({"task": "RunCrawl", "crawl": "demo", "task_params": {"db": "items"}}, "task_params", "A crawl takes no"),
])
def test_clean_refuses_with_a_sentence(fields: dict, field: str, sentence: str) -> None:
    schedule = Schedule(name="x", cron="0 2 * * *", **fields)
    with pytest.raises(ValidationError) as caught:
        schedule.full_clean()
    assert sentence in " ".join(caught.value.message_dict[field])


def test_a_maintenance_schedule_needs_no_crawl() -> None:
    Schedule(name="x", cron="0 2 * * *", task="BackupDatabase", task_params={"db": "webmon"}).full_clean()


def test_the_admin_shows_and_edits_a_maintenance_schedule(webmon_db: None) -> None:
    from django.contrib.auth.models import User
    from django.test import Client

    call_command("ensure_maintenance_schedules", verbosity=0)
    user = User.objects.filter(username="root").first() or User.objects.create_superuser(
        "root", password="not-a-real-password-3")
    client = Client()
    client.force_login(user)
    listing = client.get("/admin/scheduling/schedule/").content.decode()
    assert "column-task" in listing and "backup-webmon" in listing
    schedule = Schedule.objects.get(name="prune-history")
    page = client.get(f"/admin/scheduling/schedule/{schedule.pk}/change/").content.decode()
    assert 'name="task"' in page and 'name="task_params"' in page
    form = {
        "name": "prune-history", "task": "PruneHistory", "crawl": "", "task_params": '{"older_than_days": 30}',
        "cron": "0 4 * * 0", "timezone": "UTC", "interval_seconds": "", "enabled": "on",
        "start_at_0": "2026-01-01", "start_at_1": "00:00:00", "end_at_0": "", "end_at_1": "",
        "catchup": "latest", "max_active_runs": "1", "overlap": "skip", "jitter_seconds": "0", "retries": "2",
        "retry_delay_seconds": "300", "retry_exponential": "on", "max_retry_delay_seconds": "3600",
        "timeout_seconds": "3600", "grace_seconds": "3600", "params": "{}",
    }
    response = client.post(f"/admin/scheduling/schedule/{schedule.pk}/change/", form)
    assert response.status_code == 302, response.content.decode()[:3000]
    schedule.refresh_from_db()
    assert (schedule.task_params, schedule.cron) == ({"older_than_days": 30}, "0 4 * * 0")
    response = client.post(f"/admin/scheduling/schedule/{schedule.pk}/change/",
                           {**form, "task_params": '{"older_than_days": 0}'})
    assert response.status_code == 200
    assert "older_than_days: expected a whole number in [1, 36500], got 0." in response.content.decode()
