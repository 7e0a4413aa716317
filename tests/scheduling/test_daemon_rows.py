"""A trigger daemon's heartbeat row: it carries the daemon's slots, and a clean stop removes it unless a run it
claimed still runs (the Workers page shows what is left; tests/webmon/test_workers_daemons.py).

In-process: `Trigger.run_forever` stopped by a real SIGTERM (sent from its clock once it has beaten). Then a
real `manage.py trigger` process on PostgreSQL, with the Workers page rendered from the same database.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from pipelines.runs import records
from pipelines.runs.sweep import HistorySweeper
from tests.conftest import ROOT, Luigid
from tests.scheduling.test_daemon import DaemonTestCase
from webmon.scheduling import pool
from webmon.scheduling.daemon import Trigger
from webmon.scheduling.models import DaemonHeartbeat, ScheduledRun


class CleanStopTests(DaemonTestCase):
    def setUp(self) -> None:
        super().setUp()
        DaemonHeartbeat.objects.all().delete()
        history = f"sqlite:///{self.out}/history.db"
        Path(self.out, "history.db").unlink(missing_ok=True)
        records.create_tables(records.engine_for(history))
        self.sweeper = HistorySweeper(history, dead_after=60)

    def run_until_sigterm(self, trigger: Trigger) -> list[dict]:
        """run_forever until a SIGTERM to this process, sent when it reads its clock the second time (after the
        first round's beat, so its handler is installed); the heartbeat rows seen just before."""
        seen: list[dict] = []
        rounds = 0

        def clock() -> object:
            nonlocal rounds
            rounds += 1
            if rounds == 2:
                seen.extend(DaemonHeartbeat.objects.values("name", "slots"))
                os.kill(os.getpid(), signal.SIGTERM)
            return self.clock()

        trigger.clock = clock
        saved = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
        try:
            trigger.run_forever(idle_sleep=0.01)
        finally:
            signal.signal(signal.SIGTERM, saved[0])
            signal.signal(signal.SIGINT, saved[1])
        return seen

    def test_a_daemon_stopped_cleanly_with_nothing_running_removes_its_row(self) -> None:
        DaemonHeartbeat.objects.create(name="host-b:3", started_at=self.clock(), beat_at=self.clock())
        trigger = self.trigger(slots=2, sweeper=self.sweeper)
        seen = self.run_until_sigterm(trigger)
        assert sorted(seen, key=lambda r: r["name"]) == [{"name": "host-b:3", "slots": 0},
                                                         {"name": trigger.name, "slots": 2}]
        assert list(DaemonHeartbeat.objects.values_list("name", flat=True)) == ["host-b:3"]  # another's stays

    def test_a_daemon_stopped_while_a_run_it_claimed_runs_keeps_its_row(self) -> None:
        s = self.schedule(enabled=False)  # nothing planned: only the run below
        trigger = self.trigger(slots=1, sweeper=self.sweeper)
        ScheduledRun.objects.create(schedule=s, logical_time=self.clock() - timedelta(minutes=5),
                                    state=ScheduledRun.RUNNING, claimed_by=trigger.name, attempts=1,
                                    started_at=self.clock())
        self.run_until_sigterm(trigger)
        # Its crawl goes on: the next daemon of this host adopts it, other hosts judge the host by this beat.
        assert list(DaemonHeartbeat.objects.values_list("name", "slots")) == [(trigger.name, 1)]


def test_the_pages_silent_state_starts_when_a_daemon_counts_as_stopped() -> None:
    assert pool.SILENT_AFTER == Trigger().stale_after


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


PAGE = """
import json
from django.contrib.auth.models import User
from django.test import Client
from django.test.utils import setup_test_environment
setup_test_environment()
client = Client()
user = User.objects.filter(username="u").first() or User.objects.create_user("u", password="p-not-real-1")
client.force_login(user)
response = client.get("/workers/")
print("@@" + json.dumps([response.status_code, response.content.decode(),
                         list(DaemonHeartbeat.objects.values_list("name", "slots"))]))
"""


@pytest.fixture
def pg_env(postgres_url: str, luigid: Luigid, tmp_path: Path) -> Iterator[dict[str, str]]:
    env = luigid.env(DATABASE_URL=postgres_url.replace("postgresql+psycopg2://", "postgresql://"),
                     SECRET_KEY="tests-only", DJANGO_SETTINGS_MODULE="webmon.settings", LUIGID_URL=luigid.url,
                     RUN_OUTPUT_DIR=str(tmp_path / "runs"))
    manage(env, "migrate", "--noinput", "-v", "0")
    yield env


def page(env: dict[str, str]) -> tuple[int, str, list[list]]:
    out = manage(env, "shell", "-c", "from webmon.scheduling.models import DaemonHeartbeat\n" + PAGE).stdout
    return tuple(json.loads(out.rsplit("@@", 1)[1]))  # type: ignore[return-value]


@pytest.mark.postgres
def test_a_real_daemon_on_postgresql_shows_up_with_its_slots_and_leaves_on_sigterm(
    pg_env: dict[str, str], tmp_path: Path
) -> None:
    log = open(tmp_path / "trigger.log", "ab")
    daemon = subprocess.Popen([sys.executable, "manage.py", "trigger", "--slots", "2", "--idle-sleep", "0.2"],
                              cwd=ROOT, env=pg_env, stdout=log, stderr=subprocess.STDOUT)
    try:
        name = f"{socket.gethostname()}:{daemon.pid}"
        deadline = time.monotonic() + 60
        while True:
            status, body, rows = page(pg_env)
            if rows or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        assert rows == [[name, 2]], (tmp_path / "trigger.log").read_text()[-2000:]
        assert status == 200
        assert f'<tr class="daemon" data-daemon="{name}">' in body
        row = body[body.index(f'data-daemon="{name}"'):]
        row = row[:row.index("</tr>")]
        assert f'<td class="pid">{daemon.pid}</td>' in row and '<td class="slots">runs 0 of 2 slots</td>' in row
        assert '<td class="state daemon-state-up">up</td>' in row
        daemon.send_signal(signal.SIGTERM)
        assert daemon.wait(timeout=15) == 0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
        log.close()
    status, body, rows = page(pg_env)
    assert rows == [] and status == 200
    assert "data-daemon=" not in body
