"""A worker SIGKILLed during FetchPages, with real processes: luigid, the luigi CLI, `manage.py trigger`.

- the trigger daemon alone (no other task runs) marks the dead attempt killed;
- the first rerun after `[scheduler] worker_disconnect_delay` runs (it used to
  exit 25, "not granted run permission", and only the rerun after it ran);
- a rerun before the delay ends with one sentence: the task, the dead
  worker's pid and host, and the UTC time after which the tick can run, which
  is also the line the daemon keeps as the run's reason; at that time it runs.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.runs.models import DONE, KILLED, RUNNING
from tests.conftest import PYTHON, ROOT, DemoSite, Luigid, make_luigid, start_demo_site, stop
from tests.scheduling.test_trigger_e2e import Webmon
from webmon.scheduling.daemon import error_line

TICK = "2026-11-21T0730"
HOST = socket.gethostname()


@pytest.fixture(scope="module")
def slow_site() -> Iterator[DemoSite]:
    # 10 ms per response and 2 connections: a fetch long enough to kill mid-way.
    site = start_demo_site(500, latency_ms=10)
    yield site
    stop(site.proc)


@pytest.fixture
def patient_luigid(tmp_path: Path) -> Iterator[Luigid]:
    """A luigid that lets a dead worker's task go after 8 s (the shared one: 2 s)."""
    server = make_luigid(tmp_path / "luigid")
    server.config.write_text(server.config.read_text().replace("worker_disconnect_delay = 2",
                                                               "worker_disconnect_delay = 8"))
    server.start()
    yield server
    server.stop()


def kill_during_fetch(luigid: Luigid, site: DemoSite, crawl: str) -> tuple[int, float]:
    """Start a tick, SIGKILL its worker once FetchPages has written some pages; (pid, time.time() of the kill)."""
    luigid.write_spec(crawl, site.url, concurrency=2)
    tick = luigid.data_dir / crawl / "20261121T0730Z"
    worker = subprocess.Popen([PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", crawl,
                               "--at", TICK], cwd=ROOT, env=luigid.env(), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and worker.poll() is None:
        if [p for p in tick.glob("fetch.tmp-*/pages.warc.gz") if p.stat().st_size > 20_000]:
            break
        time.sleep(0.02)
    assert worker.poll() is None, "the fetch ended before it could be killed"
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    return worker.pid, time.time()


def records_of(luigid: Luigid, crawl: str) -> list[dict]:
    engine = sa.create_engine(luigid.history_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, family, status, pid, host, error_message FROM crawl_runs "
                                    "WHERE crawl = :c ORDER BY id"), {"c": crawl}).mappings().all()
    engine.dispose()
    return [dict(r) for r in rows]


def rerun(luigid: Luigid, crawl: str) -> subprocess.CompletedProcess:
    return luigid.run("RunCrawl", "--crawl", crawl, "--at", TICK)


def test_the_trigger_daemon_alone_marks_a_sigkilled_fetch_killed(luigid: Luigid, slow_site: DemoSite,
                                                                  tmp_path: Path) -> None:
    webmon = Webmon(luigid, tmp_path)
    webmon.daemon()  # no schedules: its sweep step is all it does here
    try:
        pid, _ = kill_during_fetch(luigid, slow_site, "swept")
        deadline = time.monotonic() + 30  # the daemon sweeps every 5 s
        while time.monotonic() < deadline and records_of(luigid, "swept")[0]["status"] == RUNNING:
            time.sleep(0.2)
    finally:
        webmon.stop_all()
    [record] = records_of(luigid, "swept")  # no other task started, so no task-start sweep either
    assert (record["family"], record["status"], record["pid"]) == ("FetchPages", KILLED, pid)
    assert record["error_message"] == f"process {pid} on {HOST} is gone: the worker died"


def test_the_first_rerun_after_the_disconnect_delay_runs(luigid: Luigid, slow_site: DemoSite) -> None:
    _, killed_at = kill_during_fetch(luigid, slow_site, "rerun")
    time.sleep(max(0.0, killed_at + 2 + 1.5 - time.time()))  # worker_disconnect_delay = 2 in the test config

    result = rerun(luigid, "rerun")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "not granted run permission" not in result.stderr
    fetches = [(r["status"]) for r in records_of(luigid, "rerun") if r["family"] == "FetchPages"]
    assert fetches == [KILLED, DONE]


def test_a_rerun_before_the_delay_says_who_holds_the_tick_and_when_it_can_run(
        patient_luigid: Luigid, slow_site: DemoSite, tmp_path: Path) -> None:
    pid, killed_at = kill_during_fetch(patient_luigid, slow_site, "held")

    early = rerun(patient_luigid, "held")

    assert early.returncode == 10, early.stderr[-3000:]  # [retcode] already_running, as before
    last = early.stderr.strip().splitlines()[-1]
    said = re.fullmatch(
        r"WARNING: FetchPages\(crawl=held, at=2026-11-21T0730\) is still held in luigid by a dead worker "
        r"\(pid (\d+) on (\S+), its process is gone; last contact [\d-]+ [\d:]+ UTC\): luigid lets it go "
        r"\[scheduler\] worker_disconnect_delay = 8 s after that contact, so this tick can run again after "
        r"([\d-]+ [\d:]+) UTC; this run will not run it\.", last)
    assert said, last
    assert (int(said[1]), said[2]) == (pid, HOST)
    free_after = datetime.strptime(said[3], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp()
    assert killed_at - 2 <= free_after - 8 <= killed_at + 1  # last contact: the dead worker's last ping

    # The daemon keeps the run's output (stdout and stderr in one file) and takes this line as the reason.
    output = tmp_path / "run-output.log"
    output.write_text(early.stdout + early.stderr)
    assert error_line(str(output)) == last

    time.sleep(max(0.0, free_after + 0.5 - time.time()))
    again = rerun(patient_luigid, "held")
    assert again.returncode == 0, again.stderr[-3000:]
