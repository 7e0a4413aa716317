"""On a history with both Luigi's tables and our run records: a task page links the run records of its
task_id, and the runs list links back to Luigi's records of each run's task."""

from __future__ import annotations

from datetime import timedelta

from django.test import Client, override_settings
from django.utils import timezone
from history_seed import HistorySeed


def test_a_task_page_lists_the_run_records_of_its_task_id(client: Client, history: HistorySeed) -> None:
    now = timezone.now()
    first = history.run(task_id="FetchPages_x_1", status="failed", started_at=now - timedelta(hours=1))
    second = history.run(task_id="FetchPages_x_1", attempt=2, started_at=now)
    history.run(task_id="FetchPages_other", started_at=now)
    pk = history.luigi_task("FetchPages_x_1", "FetchPages", {"crawl": "x"}, [("RUNNING", now), ("DONE", now)])
    older = history.luigi_task("FetchPages_x_1", "FetchPages", {"crawl": "x"}, [("FAILED", now - timedelta(hours=1))])
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        response = client.get(f"/tasks/{pk}/")
    assert [run.id for run in response.context["runs"]] == [second, first]
    assert [r.id for r in response.context["records"]] == [older]  # the same task_id in another luigid lifetime
    body = response.content.decode()
    assert f'<a href="/runs/{second}/">#{second}</a>' in body
    assert 'id="task-no-run-records"' not in body


def test_the_runs_list_links_each_run_to_luigis_records_of_its_task(client: Client, history: HistorySeed) -> None:
    history.run(task_id="FetchPages_x_1", started_at=timezone.now())
    body = client.get("/runs/").content.decode()
    assert '<a class="luigi-task" href="/tasks/?task=FetchPages_x_1"' in body
    tasks = client.get("/tasks/?task=FetchPages_x_1")
    assert tasks.status_code == 200


def test_a_run_page_links_to_luigis_records_of_its_task(client: Client, history: HistorySeed) -> None:
    run = history.run(task_id="FetchPages_x_1", started_at=timezone.now())
    body = client.get(f"/runs/{run}/").content.decode()
    assert '<a id="luigi-task-link" href="/tasks/?task=FetchPages_x_1">' in body
