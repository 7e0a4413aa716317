"""What webmon makes of luigid's API answers and URLs."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.test import override_settings

from webmon.monitor import luigid


def test_a_task_list_answer_becomes_running_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = {
        "A_1": {
            "name": "A",
            "params": {"x": 1},
            "progress_percentage": 140.5,
            "status_message": None,
            "worker_running": "w",
            "time_running": 1_700_000_000.0,
            "tracking_url": "https://mon/runs/1/",
        },
        "B_2": {
            "name": "B",
            "params": "oops",
            "progress_percentage": "half",
            "tracking_url": "javascript:x()",
            "time_running": None,
        },
        "junk": "not a task",
    }
    monkeypatch.setattr(luigid, "call", lambda method, data: answer)
    running = luigid.running_tasks()
    a, b = running.tasks
    assert (a.task_id, a.family, a.params, a.progress, a.worker, a.tracking_url) == (
        "A_1",
        "A",
        [("x", "1")],
        100,
        "w",
        "https://mon/runs/1/",
    )
    assert a.running_since == datetime.fromtimestamp(1_700_000_000, UTC)
    assert (b.params, b.progress, b.tracking_url, b.running_since) == ([], None, None, None)


def test_too_many_tasks_is_a_count(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(luigid, "call", lambda method, data: {"num_tasks": 123456})
    assert luigid.running_tasks() == luigid.Running([], too_many=123456)


def test_links_never_show_credentials() -> None:
    with override_settings(LUIGID_URL="https://ops:s3cret@luigid.example:8443/"):
        assert luigid.public_url() == "https://luigid.example:8443"
        assert luigid.visualiser_url("A b/c") == (
            "https://luigid.example:8443/static/visualiser/index.html#tab=graph&taskId=A%20b%2Fc"
        )


def test_an_unreachable_luigid_is_one_short_reason() -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"), pytest.raises(luigid.LuigidUnavailable) as excinfo:
        luigid.running_tasks()
    assert "refused" in str(excinfo.value).lower()
