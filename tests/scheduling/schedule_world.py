"""A small named world for the schedule pages, actions and notices (Healthchecks' BaseTestCase, as fixtures).

The webmon DB of these tests is one in-memory DB per process: `fresh` empties
the scheduling tables before each test, so each test starts from its own world.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.test import Client

from webmon.scheduling.models import Channel, DaemonHeartbeat, Schedule, ScheduledRun, ScheduleEvent

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)


# Fixtures are named with name=: a test module imports the *_fixture functions and asks for them by name.
@pytest.fixture(name="fresh")
def fresh_fixture(webmon_db: None) -> Iterator[None]:
    for model in (ScheduleEvent, ScheduledRun, Schedule, Channel, DaemonHeartbeat):
        model.objects.all().delete()
    yield


@pytest.fixture(name="manager")
def manager_fixture(fresh: None) -> Client:
    """A logged-in client whose user may change schedules (not staff)."""
    user = User.objects.filter(username="scheduler").first()
    if user is None:
        user = User.objects.create_user("scheduler", password="not-a-real-password-2")
        user.user_permissions.add(Permission.objects.get(codename="change_schedule"))
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture(name="admin_client")
def admin_client_fixture(fresh: None) -> Client:
    user = User.objects.filter(username="root").first() or User.objects.create_superuser(
        "root", password="not-a-real-password-3"
    )
    c = Client()
    c.force_login(user)
    return c


def make_schedule(name: str = "demo-hourly", **values: Any) -> Schedule:
    defaults: dict[str, Any] = dict(crawl="demo", cron="0 * * * *", timezone="UTC", start_at=T0 - timedelta(days=30))
    defaults.update(values)
    return Schedule.objects.create(name=name, **defaults)


def make_run(schedule: Schedule, at: datetime, state: str = ScheduledRun.SUCCESS, **values: Any) -> ScheduledRun:
    return ScheduledRun.objects.create(schedule=schedule, logical_time=at, state=state, **values)
