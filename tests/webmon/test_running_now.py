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

from tests.conftest import ROOT, Luigid, start_demo_site, stop

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


def fetch_in_luigid(luigid: Luigid, crawl: str, want: str, percent: bool = False) -> tuple[str, dict]:
    """The running FetchPages of `crawl` (task id, luigid's task) once its status message contains `want`
    (and, with `percent`, its percentage has arrived too: the worker sends the two one after the other)."""
    deadline = time.monotonic() + 60
    seen = None
    while time.monotonic() < deadline:
        for task_id, task in running_in_luigid(luigid).items():
            if task["name"] == "FetchPages" and task["params"].get("crawl") == crawl:
                seen = task
                if want in (task.get("status_message") or "") and (
                        not percent or task.get("progress_percentage") is not None):
                    return task_id, task
        time.sleep(0.2)
    raise AssertionError(f"no running FetchPages of {crawl} said {want!r}; last seen: {seen}")


def progress_cell(body: str, task_id: str) -> str:
    row = body.split(f'class="running-task" data-task-id="{task_id}"', 1)[1].split("</tr>", 1)[0]
    return row.split('class="progress-cell">', 1)[1].split("</td>", 1)[0]


def test_a_fetch_shows_a_percentage_only_of_a_stated_estimate(
    client: Client, history: HistorySeed, luigid: Luigid
) -> None:
    # 60 products (65 pages) at 200 ms each over one connection: about 13 s per fetch, several progress reports.
    site = start_demo_site(60, latency_ms=200)
    try:
        luigid.write_spec("estimated", site.url, concurrency=1)
        crawl_dir = luigid.data_dir / "estimated"

        def fetch(at: str, *extra: str) -> subprocess.Popen:
            return subprocess.Popen(
                [sys.executable, "-m", "luigi", "--module", "pipelines.tasks", "FetchPages", "--crawl", "estimated",
                 "--at", at, *extra],
                cwd=ROOT, env=luigid.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        # A fresh crawl: no earlier tick, so no percentage, and the message says why.
        first = fetch("2026-11-21T0700")
        try:
            task_id, task = fetch_in_luigid(luigid, "estimated", "found so far (no estimate: no earlier tick)")
            assert task["progress_percentage"] is None
            with override_settings(LUIGID_URL=luigid.url):
                body = client.get("/").content.decode()
            assert "<progress" not in progress_cell(body, task_id)
            assert "found so far (no estimate: no earlier tick)" in body
        finally:
            assert first.wait(120) == 0
        stats = json.loads((crawl_dir / "20261121T0700Z" / "fetch" / "stats.json").read_text())
        previous = stats["fetched"] + stats["failed"]

        # The next tick: a percentage of the previous tick's pages, named in the message, at most 99 %.
        second = fetch("2026-11-21T0710")
        try:
            want = f" of ~{previous:,} pages (previous tick)"
            task_id, task = fetch_in_luigid(luigid, "estimated", want, percent=True)
            done = int(task["status_message"].split("fetching: ", 1)[1].split(" of ", 1)[0].replace(",", ""))
            assert 0 <= task["progress_percentage"] <= 99
            assert done < previous
            with override_settings(LUIGID_URL=luigid.url):
                body = client.get("/").content.decode()
            cell = progress_cell(body, task_id)
            assert '<progress class="progress" max="100"' in cell
            assert f"of ~{previous:,} pages (previous tick)" in body
        finally:
            assert second.wait(120) == 0

        # A tick that will hit max_pages: the percentage is of max_pages.
        third = fetch("2026-11-21T0720", "--overrides", '{"max_pages": 40}')
        try:
            _, task = fetch_in_luigid(luigid, "estimated", " of 40 pages (max_pages)", percent=True)
            assert 0 <= task["progress_percentage"] <= 99
        finally:
            assert third.wait(120) == 0
    finally:
        stop(site.proc)
