"""Rows an older or a hand-fed Luigi history holds: no task_id (before Luigi's schema upgrade), no host, no events."""

from __future__ import annotations

from datetime import UTC, datetime

from django.test import Client
from history_seed import HistorySeed


def test_tasks_without_task_id_host_or_events_are_listed_and_shown(client: Client, history: HistorySeed) -> None:
    bare = history.luigi_task(task_id=None, family="Legacy", params={}, events=[], host=None)  # type: ignore[arg-type]
    named = history.luigi_task("Legacy_2", "Legacy", {"day": "2015-01-01"},
                               [("PENDING", datetime(2015, 1, 1, tzinfo=UTC))], host=None)  # type: ignore[arg-type]
    for path in ("/", "/tasks/", "/tasks/?family=Legacy", "/tasks/?status=PENDING", "/tasks/?param=day",
                 f"/tasks/{bare}/", f"/tasks/{named}/", "/families/", "/runs/"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert b"banner-history" not in response.content, path
    listing = client.get("/tasks/?family=Legacy").content.decode()
    assert f'href="/tasks/{bare}/"' in listing and f'href="/tasks/{named}/"' in listing
