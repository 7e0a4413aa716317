"""The Workers page: hosts, their luigid workers, what each runs now, last seen; from a real luigid and real workers."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.test import Client, override_settings
from history_seed import HistorySeed

from tests.conftest import ROOT, Luigid, free_port
from webmon.monitor.templatetags.monitor import host_anchor

HERE = Path(__file__).resolve().parent
HOST = socket.gethostname()  # what a luigi worker on this machine tells luigid, and what its run records say


def api(luigid: Luigid, method: str, data: dict) -> object:
    query = urllib.parse.urlencode({"data": json.dumps(data)})
    with urllib.request.urlopen(f"{luigid.url}/api/{method}?{query}", timeout=5) as answer:
        return json.loads(answer.read())["response"]


def wait_for(condition: Callable[[], object], what: str, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def napping_worker(luigid: Luigid) -> dict | None:
    """luigid's entry of the worker running Nap once the task is under way (progress set), else None."""
    for worker in api(luigid, "worker_list", {}):
        for task in (worker.get("running") or {}).values():
            if task.get("name") == "Nap" and task.get("progress_percentage") == 40:
                return worker
    return None


def section(body: str, host: str) -> str:
    """The HTML of one host's section of the page."""
    start = body.index(f'<section class="host" id="{host_anchor(host)}"')
    return body[start:body.index("</section>", start)]


def test_a_running_worker_shows_under_its_host_and_its_host_stays_seen_after_it_ends(
    client: Client,
    luigid: Luigid,
    tmp_path: Path,
    history_at: Callable[[str], AbstractContextManager[None]],
    num_queries: Callable[..., AbstractContextManager[None]],
) -> None:
    stop = tmp_path / "stop"
    env = luigid.env()
    env["PYTHONPATH"] = f"{ROOT}:{HERE}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "luigi", "--module", "sleepy_tasks", "Nap", "--stop-file", str(stop)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    history_file = luigid.history_url.removeprefix("sqlite:///")
    try:
        worker = wait_for(lambda: napping_worker(luigid), "the worker to run Nap")
        [task_id] = worker["running"]
        with override_settings(LUIGID_URL=luigid.url), history_at(history_file):
            with num_queries(default=4, history=2):  # session, user, daemons, their runs; recent runs, running runs
                response = client.get("/workers/")
        assert response.status_code == 200
        body = response.content.decode()
        assert 'id="banner-luigid"' not in body
        host = section(body, HOST)
        assert f'data-worker-id="{worker["name"]}"' in host
        assert f'<td class="pid">{proc.pid}</td>' in host
        assert '<td class="state state-active">active</td>' in host
        assert '<td class="num-running">1</td>' in host
        # The worker's task links to its run record here (the worker wrote one: RunContext).
        [row] = [r for h in response.context["hosts"] if h.name == HOST for w in h.workers for r in w.running]
        assert row.task.task_id == task_id and row.run is not None
        assert f'<div class="worker-task" data-task-id="{task_id}"><a class="task-run" href="/runs/{row.run.id}/">Nap</a>' in host
        assert '<span class="count count-running">1 running</span>' in host
    finally:
        stop.touch()
        proc.wait(30)
    assert proc.returncode == 0

    # luigid forgets the worker ([scheduler] worker_disconnect_delay = 2 in the test luigi.cfg) ...
    wait_for(lambda: not any(w["name"] == worker["name"] for w in api(luigid, "worker_list", {})), "luigid to forget the worker")
    with override_settings(LUIGID_URL=luigid.url), history_at(history_file):
        response = client.get("/workers/")
    body = response.content.decode()
    host = section(body, HOST)
    # ... and the run records still show the host, its finished run and when it was last seen.
    assert 'data-worker-id' not in host
    assert "luigid knows no worker on this host now." in host
    assert '<span class="count count-done">1 done</span>' in host
    assert f'href="/runs/{row.run.id}/">#{row.run.id} Nap</a>' in host
    [seen] = [h for h in response.context["hosts"] if h.name == HOST]
    assert seen.last_seen is not None and seen.last_seen >= row.run.started_at
    assert "last seen " in host and "last seen —" not in host


def test_a_worker_with_a_hostile_host_name_is_shown_escaped(client: Client, luigid: Luigid, history: HistorySeed) -> None:
    hostile = 'evil<b>host</b>"<script>alert(1)</script>'
    worker_id = "Worker(hostile)<i>id</i>"
    api(luigid, "add_worker", {"worker": worker_id, "info": [["host", hostile], ["pid", "not a pid"], ["username", "<u>x</u>"]]})
    with override_settings(LUIGID_URL=luigid.url):
        response = client.get("/workers/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "<b>host</b>" not in body and "<script>alert" not in body and "<i>id</i>" not in body and "<u>x</u>" not in body
    host = section(body, hostile)
    assert "evil&lt;b&gt;host&lt;/b&gt;&quot;&lt;script&gt;" in host
    assert 'data-worker-id="Worker(hostile)&lt;i&gt;id&lt;/i&gt;"' in host
    assert '<td class="pid">—</td>' in host  # a pid that is not a number reads as unknown


def test_with_luigid_down_the_run_records_still_show_each_host(
    client: Client, history: HistorySeed, num_queries: Callable[..., AbstractContextManager[None]]
) -> None:
    now = datetime.now(UTC)
    history.run(host="worker-7", status="done", started_at=now - timedelta(hours=1))
    history.run(host="worker-7", status="failed", started_at=now - timedelta(minutes=30))
    newest = history.run(host="worker-7", status="done", started_at=now - timedelta(minutes=10))
    history.run(host="worker-9", status="done", started_at=now - timedelta(days=3))  # outside the 24 hours
    hostile = history.run(host="<img src=x onerror=alert(1)>", status="killed", started_at=now - timedelta(hours=2))
    with override_settings(LUIGID_URL=f"http://127.0.0.1:{free_port()}"), num_queries(default=4, history=2):
        response = client.get("/workers/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="banner-luigid"' in body
    assert 'id="workers-unknown"' in body
    host = section(body, "worker-7")
    assert '<span class="count count-done">2 done</span>, <span class="count count-failed">1 failed</span>' in host
    assert f'href="/runs/{newest}/">#{newest} FetchPages</a>' in host
    assert "worker-9" not in body
    assert "<img src=x" not in body
    assert f'href="/runs/{hostile}/"' in section(body, "<img src=x onerror=alert(1)>")
    # The most recently seen host comes first.
    assert [h.name for h in response.context["hosts"]] == ["worker-7", "<img src=x onerror=alert(1)>"]


def test_on_a_history_without_run_tables_it_shows_luigids_workers_alone(
    client: Client, luigid: Luigid, history_db: object, num_queries: Callable[..., AbstractContextManager[None]]
) -> None:
    api(luigid, "add_worker", {"worker": "Worker(plain)", "info": [["host", "plain-host"], ["pid", 77]]})
    with override_settings(LUIGID_URL=luigid.url), num_queries(default=4, history=1):
        response = client.get("/workers/")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="workers-no-run-records"' in body and 'id="banner-history"' not in body
    assert '<td class="pid">77</td>' in section(body, "plain-host")


def test_the_run_page_links_its_host_to_the_workers_page(client: Client, history: HistorySeed) -> None:
    run_id = history.run(host="worker-7", started_at=datetime.now(UTC) - timedelta(minutes=5))
    with override_settings(LUIGID_URL=f"http://127.0.0.1:{free_port()}"):
        body = client.get(f"/runs/{run_id}/").content.decode()
        workers = client.get("/workers/").content.decode()
    anchor = host_anchor("worker-7")
    assert f'id="run-host-link" href="/workers/#{anchor}"' in body
    assert f'<section class="host" id="{anchor}"' in workers


def test_it_requires_login(anonymous: Client) -> None:
    response = anonymous.get("/workers/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/workers/"


def test_the_nav_links_to_it(client: Client, history: HistorySeed) -> None:
    with override_settings(LUIGID_URL=f"http://127.0.0.1:{free_port()}"):
        body = client.get("/").content.decode()
    assert '<a id="nav-workers" href="/workers/">Workers</a>' in body
