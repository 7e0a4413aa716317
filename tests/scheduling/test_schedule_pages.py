"""The schedules list and a schedule's page: login, fixed queries, next fire times, runs, output files."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client, override_settings

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


@pytest.mark.parametrize(
    "url", ["/schedules/", "/schedules/1/", "/schedules/1/runs/1/", "/schedules/1/runs/1/output.txt"]
)
def test_every_page_requires_login(anonymous: Client, url: str) -> None:
    response = anonymous.get(url)
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=")


def test_the_list_shows_state_cadence_next_run_and_the_last_five_runs(client: Client) -> None:
    hourly = make_schedule("hourly", state=Schedule.DOWN)
    make_schedule("every-15-min", cron="", interval_seconds=900, state=Schedule.NEW)
    for i in range(7):
        make_run(hourly, T0 - timedelta(hours=i), ScheduledRun.FAILED if i == 0 else ScheduledRun.SUCCESS)
    response = client.get("/schedules/")
    assert response.status_code == 200
    rows = {row.schedule.name: row for row in response.context["rows"]}
    assert [r.run.logical_time for r in rows["hourly"].recent] == [T0 - timedelta(hours=i) for i in range(5)]
    assert [r.dot for r in rows["hourly"].recent] == ["day-failed"] + ["day-ok"] * 4
    assert rows["every-15-min"].recent == [] and rows["hourly"].next_run is not None
    body = response.content.decode()
    assert '<span class="status status-failed schedule-state" data-state="down">down</span>' in body
    assert "<code>0 * * * *</code> <small>UTC</small>" in body and "every 900 s" in body
    assert body.count('data-state="success"') == 4
    assert 'id="nav-schedules"' in body
    assert "Pause" not in body  # no permission: no action buttons


def test_actions_are_offered_to_those_who_may_use_them(manager: Client) -> None:
    make_schedule("hourly")
    make_schedule("paused", state=Schedule.PAUSED, enabled=False)
    body = manager.get("/schedules/").content.decode()
    assert body.count('class="pause"') == 1 and body.count('class="resume"') == 1
    assert body.count('name="csrfmiddlewaretoken"') == 2 * 3 + 1  # pause or resume, trigger, backfill; logout


@pytest.mark.parametrize("schedules", [2, 10])
def test_the_list_makes_a_fixed_number_of_queries(manager: Client, num_queries, schedules: int) -> None:
    for s in range(schedules):
        schedule = make_schedule(f"s{s:02d}")
        for i in range(8):
            make_run(schedule, T0 - timedelta(hours=i))
            make_run(schedule, T0 - timedelta(hours=i), trigger=ScheduledRun.MANUAL)  # ties at each minute
    with num_queries(default=6, history=0):
        # 1. the session; 2. the user
        # 3. the schedules, each with the time of its 5th newest run (a subquery)
        # 4. their runs from that time on (trimmed to 5 each in Python)
        # 5. the user's permissions; 6. the user's groups' permissions (has_perm)
        response = manager.get("/schedules/")
    assert all(len(row.recent) == 5 for row in response.context["rows"])


def test_a_schedule_page_shows_settings_next_five_fire_times_events_and_runs(client: Client) -> None:
    schedule = make_schedule(cron="30 2 * * *", timezone="Europe/Berlin", params={"max_pages": 5})
    failed = make_run(
        schedule,
        T0,
        ScheduledRun.FAILED,
        attempts=3,
        exit_code=30,
        reason="exit code 30: boom",
        started_at=T0,
        finished_at=T0 + timedelta(seconds=95),
        output_path="var/log/runs/1/1-3.log",
    )
    ScheduleEvent.objects.create(
        schedule=schedule, old_state="up", new_state="down", reason="failed", detail="exit code 30: boom", run=failed
    )
    response = client.get(f"/schedules/{schedule.pk}/")
    assert response.status_code == 200
    upcoming = response.context["upcoming"]
    assert len(upcoming) == 5 and all(t.astimezone().minute == 30 for t in upcoming)
    body = response.content.decode()
    assert "<code>30 2 * * * (Europe/Berlin)</code>" in body and "{&quot;max_pages&quot;: 5}" in body
    assert "<dt>Crawl</dt>" in body and "<dt>Task parameters</dt>" not in body  # a crawl takes overrides instead
    assert f'id="run-{failed.pk}" data-state="failed"' in body
    assert "1 min 35 s" in body and "exit code 30: boom" in body
    assert f'href="/schedules/{schedule.pk}/runs/{failed.pk}/output.txt"' in body
    assert 'data-reason="failed"' in body
    assert "Rerun" not in body  # the plain client has no permission


def test_runs_are_paginated_newest_first_by_keyset(client: Client) -> None:
    schedule = make_schedule()
    for i in range(55):
        make_run(schedule, T0 - timedelta(hours=i))
    first = client.get(f"/schedules/{schedule.pk}/")
    runs = [r.run.logical_time for r in first.context["runs"]]
    assert len(runs) == 50 and runs[0] == T0
    second = client.get(f"/schedules/{schedule.pk}/?from={first.context['older']}")
    assert [r.run.logical_time for r in second.context["runs"]] == [T0 - timedelta(hours=i) for i in range(50, 55)]
    assert second.context["older"] is None


def test_a_run_link_opens_the_schedule_page_at_that_run(client: Client) -> None:
    schedule = make_schedule()
    runs = [make_run(schedule, T0 - timedelta(hours=i)) for i in range(60)]
    response = client.get(f"/schedules/{schedule.pk}/runs/{runs[55].pk}/")
    assert response.status_code == 302
    page = client.get(response["Location"])
    assert page.context["runs"][0].run == runs[55]
    assert response["Location"].endswith(f"#run-{runs[55].pk}")
    other = make_schedule("other")
    assert client.get(f"/schedules/{other.pk}/runs/{runs[0].pk}/").status_code == 404


@pytest.fixture
def var(tmp_path: Path) -> Path:
    folder = tmp_path / "repo" / "var"
    (folder / "log").mkdir(parents=True)
    with override_settings(BASE_DIR=tmp_path / "repo", VAR_DIR=folder):
        yield folder


def test_the_output_file_is_streamed_as_text(client: Client, var: Path) -> None:
    (var / "log" / "1.log").write_text("$ python -m luigi ...\nall done\n")
    schedule = make_schedule()
    run = make_run(schedule, T0, output_path=str(var / "log" / "1.log"))
    relative = make_run(schedule, T0 - timedelta(hours=1), output_path="var/log/1.log")
    for r in (run, relative):
        response = client.get(f"/schedules/{schedule.pk}/runs/{r.pk}/output.txt")
        assert response.status_code == 200 and response.streaming
        assert response["Content-Type"] == "text/plain; charset=utf-8"
        assert b"".join(response.streaming_content) == b"$ python -m luigi ...\nall done\n"


def test_an_output_file_in_run_output_dir_is_served_and_a_neighbour_of_it_is_not(client: Client, var: Path,
                                                                                 tmp_path: Path) -> None:
    runs = tmp_path / "elsewhere" / "runs"
    (runs / "1").mkdir(parents=True)
    (runs / "1" / "1-1.log").write_text("$ python -m luigi ...\n")
    (tmp_path / "elsewhere" / "other.txt").write_text("secret")
    schedule = make_schedule()
    served = make_run(schedule, T0, output_path=str(runs / "1" / "1-1.log"))
    beside = make_run(schedule, T0 - timedelta(hours=1), output_path=str(runs / ".." / "other.txt"))
    with override_settings(RUN_OUTPUT_DIR=runs):
        response = client.get(f"/schedules/{schedule.pk}/runs/{served.pk}/output.txt")
        assert response.status_code == 200 and b"".join(response.streaming_content) == b"$ python -m luigi ...\n"
        assert client.get(f"/schedules/{schedule.pk}/runs/{beside.pk}/output.txt").status_code == 403


@pytest.mark.parametrize("path", ["/etc/passwd", "var/../secret.txt", "../outside.log", "var/link.log"])
def test_the_output_file_must_be_inside_var(client: Client, var: Path, path: str) -> None:
    (var.parent / "secret.txt").write_text("secret")
    (var / "link.log").symlink_to("/etc/passwd")
    schedule = make_schedule()
    run = make_run(schedule, T0, output_path=path)
    response = client.get(f"/schedules/{schedule.pk}/runs/{run.pk}/output.txt")
    assert response.status_code == 403
    assert b"secret" not in response.content and b"root:" not in response.content


def test_a_missing_output_file_is_404(client: Client, var: Path) -> None:
    schedule = make_schedule()
    none = make_run(schedule, T0)
    gone = make_run(schedule, T0 - timedelta(hours=1), output_path="var/log/gone.log")
    assert client.get(f"/schedules/{schedule.pk}/runs/{none.pk}/output.txt").status_code == 404
    assert client.get(f"/schedules/{schedule.pk}/runs/{gone.pk}/output.txt").status_code == 404


def test_the_list_has_one_parameters_column_for_overrides_and_task_parameters(client: Client) -> None:
    make_schedule("demo-small", params={"max_pages": 5})
    make_schedule("demo-plain")
    make_schedule("backup-items", task=Schedule.BACKUP, crawl="", task_params={"db": "items"})
    body = client.get("/schedules/").content.decode()
    assert body.count(">Parameters</th>") == 1
    cells = {name: html.unescape(cell) for name, cell in
             re.findall(r'data-schedule="([^"]+)">.*?<td class="parameters">(.*?)</td>', body, re.S)}
    assert cells == {
        "backup-items": '<code class="task-params">{"db": "items"}</code>',
        "demo-plain": "—",
        "demo-small": '<code class="spec-overrides">{"max_pages": 5}</code>',
    }
