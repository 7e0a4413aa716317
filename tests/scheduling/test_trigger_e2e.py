"""The trigger daemon with real processes: `manage.py trigger`, the luigi CLI, luigid.

SIGTERM in the middle of a run (the next daemon adopts it: nothing runs twice),
a retry that resumes at the failed stage (the history DB shows one fetch), and
down and recovery notices that reach a local webhook receiver exactly once.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT, DemoSite, Luigid, start_demo_site, stop


class Receiver(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def webhook() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/hook"
    server.shutdown()


@pytest.fixture(scope="module")
def slow_site() -> Iterator[DemoSite]:
    site = start_demo_site(60, latency_ms=150)
    yield site
    stop(site.proc)


class Webmon:
    """webmon's manage.py against a file DB, with the luigid and specs of the test."""

    def __init__(self, luigid: Luigid, tmp: Path) -> None:
        self.env = {**luigid.env(), "DATABASE_URL": f"sqlite:///{tmp}/webmon.db", "SECRET_KEY": "tests-only",
                    "LUIGID_URL": luigid.url, "DJANGO_SETTINGS_MODULE": "webmon.settings",
                    "RUN_OUTPUT_DIR": str(tmp / "runs")}  # this DB's run ids, not the checkout's var/log/runs
        self.daemons: list[subprocess.Popen] = []
        self.tmp = tmp
        assert self.manage("migrate", "--noinput").returncode == 0

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=120)

    def shell(self, code: str) -> str:
        result = self.manage("shell", "-c", code)
        assert result.returncode == 0, result.stderr[-3000:]
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""

    def daemon(self) -> subprocess.Popen:
        log = open(self.tmp / f"trigger-{len(self.daemons)}.log", "ab")
        process = subprocess.Popen([sys.executable, "manage.py", "trigger", "--idle-sleep", "0.2"], cwd=ROOT,
                                   env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.daemons.append(process)
        return process

    def run_state(self, name: str) -> dict:
        return json.loads(self.shell(
            "import json; from webmon.scheduling.models import ScheduledRun as R;"
            f"r = R.objects.filter(schedule__name='{name}').order_by('-id').first();"
            "print(json.dumps(None if r is None else {'state': r.state, 'attempts': r.attempts, 'pid': r.pid,"
            " 'reason': r.reason, 'id': r.pk, 'claimed_by': r.claimed_by}))"))

    def wait_for(self, name: str, states: tuple[str, ...], seconds: float = 90) -> dict:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            run = self.run_state(name)
            if run and run["state"] in states:
                return run
            time.sleep(0.3)
        raise AssertionError(f"run of {name} never reached {states}: {self.run_state(name)}")

    def stop_all(self) -> None:
        for daemon in self.daemons:
            stop(daemon)


@pytest.fixture
def webmon(luigid: Luigid, tmp_path: Path) -> Iterator[Webmon]:
    w = Webmon(luigid, tmp_path)
    yield w
    w.stop_all()


def schedule_now(webmon: Webmon, name: str, crawl: str, **extra: object) -> None:
    """A schedule with one tick, the current minute, due at once (it ends there)."""
    fields = ", ".join(f"{k}={v!r}" for k, v in extra.items())
    webmon.shell(
        "from datetime import datetime, timedelta, UTC; from webmon.scheduling.models import Schedule;"
        "now = datetime.now(UTC).replace(second=0, microsecond=0);"
        f"Schedule.objects.create(name='{name}', crawl='{crawl}', cron='* * * * *', catchup='latest',"
        " start_at=now - timedelta(days=1), last_tick=now - timedelta(minutes=1), end_at=now"
        f"{', ' + fields if fields else ''})")


def running_events(luigid: Luigid, crawl: str, family: str) -> int:
    engine = sa.create_engine(luigid.history_url)
    with engine.connect() as conn:
        count = conn.execute(sa.text(
            "SELECT COUNT(*) FROM tasks t JOIN task_events e ON e.task_id = t.id JOIN task_parameters p"
            " ON p.task_id = t.id AND p.name = 'crawl' AND p.value = :c WHERE t.name = :f AND e.event_name = 'RUNNING'"),
            {"c": crawl, "f": family}).scalar()
    engine.dispose()
    return count


def test_sigterm_mid_run_then_the_next_daemon_adopts_it(webmon: Webmon, luigid: Luigid,
                                                        slow_site: DemoSite) -> None:
    luigid.write_spec("slow", slow_site.url, concurrency=2)
    schedule_now(webmon, "slow", "slow", retries=0, timeout_seconds=600)
    first = webmon.daemon()
    run = webmon.wait_for("slow", ("running",))
    deadline = time.monotonic() + 30
    while run["pid"] is None and time.monotonic() < deadline:  # the pid is stored just after the claim
        time.sleep(0.1)
        run = webmon.run_state("slow")
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=15) == 0  # stops cleanly, at once
    assert webmon.run_state("slow")["state"] == "running"
    os.kill(run["pid"], 0)  # the crawl goes on without its daemon
    webmon.daemon()
    done = webmon.wait_for("slow", ("success", "failed"))
    assert done["state"] == "success", done
    assert done["attempts"] == 1 and done["claimed_by"] != run["claimed_by"]
    assert running_events(luigid, "slow", "FetchPages") == 1  # never run twice


def test_a_retry_resumes_at_the_failed_stage_and_notices_go_out_once(
        webmon: Webmon, luigid: Luigid, demo_site: DemoSite, webhook: str) -> None:
    Receiver.received.clear()
    spec = luigid.write_spec("flaky", demo_site.url)
    good = spec.read_text()
    spec.write_text(good + '\n[fields.isbn]\ncss = "td.isbn::text"\nrequired = true\n')  # every page fails
    schedule_now(webmon, "flaky", "flaky", retries=1, retry_delay_seconds=1, retry_exponential=False)
    webmon.shell("from webmon.scheduling.models import Schedule, Channel;"
                 f"c = Channel.objects.create(name='hook', kind='webhook', target='{webhook}');"
                 "Schedule.objects.get(name='flaky').channels.add(c)")
    webmon.daemon()
    failed = webmon.wait_for("flaky", ("failed",))
    assert failed["attempts"] == 2 and "exit code 30" in failed["reason"]
    assert running_events(luigid, "flaky", "FetchPages") == 1  # the retry did not fetch again
    assert running_events(luigid, "flaky", "ParsePages") == 2
    deadline = time.monotonic() + 20
    while not Receiver.received and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)  # a second notice, if there were one, would have come by now
    assert [(n["state"], n["reason"]) for n in Receiver.received] == [("down", "failed")]
    assert "required field 'isbn' not found" in Receiver.received[0]["detail"]

    spec.write_text(good)  # the spec is fixed; the operator reruns the failed tick
    webmon.shell("from webmon.scheduling import states; from webmon.scheduling.models import ScheduledRun as R;"
                 f"states.rerun(R.objects.get(pk={failed['id']}), by='operator')")
    assert webmon.wait_for("flaky", ("success", "failed"))["state"] == "success"
    assert running_events(luigid, "flaky", "FetchPages") == 1
    deadline = time.monotonic() + 20
    while len(Receiver.received) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.5)
    assert [n["reason"] for n in Receiver.received] == ["failed", "recovered"]
