"""The overview's "running now", from a real luigid with a task actually running."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

from django.test import Client, override_settings
from history_seed import HistorySeed

from tests.conftest import ROOT, Luigid

HERE = Path(__file__).resolve().parent


def running_in_luigid(luigid: Luigid) -> dict:
    data = urllib.parse.urlencode({"data": json.dumps({"status": "RUNNING", "upstream_status": "", "search": ""})})
    with urllib.request.urlopen(f"{luigid.url}/api/task_list?{data}", timeout=5) as answer:
        return json.loads(answer.read())["response"]


def test_a_running_task_shows_with_its_progress_and_message(
    client: Client, history: HistorySeed, luigid: Luigid, tmp_path: Path
) -> None:
    stop = tmp_path / "stop"
    env = luigid.env()
    env["PYTHONPATH"] = f"{ROOT}:{HERE}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "luigi", "--module", "sleepy_tasks", "Nap", "--stop-file", str(stop)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            tasks = running_in_luigid(luigid)
            if any(t.get("progress_percentage") == 40 for t in tasks.values()):
                break
            time.sleep(0.2)
        task_id = next(iter(tasks))
        with override_settings(LUIGID_URL=luigid.url):
            response = client.get("/")
        assert response.status_code == 200
        body = response.content.decode()
        assert 'id="banner-luigid"' not in body
        assert f'class="running-task" data-task-id="{task_id}"' in body
        assert '<progress class="progress" max="100" value="40">40%</progress>' in body
        assert "napping &lt;b&gt;hard&lt;/b&gt;" in body
        assert "javascript:" not in body  # a tracking URL that is not http(s) is not linked
        assert f"{luigid.url}/static/visualiser/index.html#tab=graph&amp;taskId={task_id}" in body
        [task] = response.context["running"].tasks
        assert (task.family, task.params, task.progress) == ("Nap", [("stop_file", str(stop))], 40)
        assert task.running_since is not None
    finally:
        stop.touch()
        worker.wait(30)
    assert worker.returncode == 0
