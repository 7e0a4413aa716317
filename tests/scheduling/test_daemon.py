"""The trigger daemon's steps, with an injected clock and real child processes."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import TransactionTestCase

from webmon.scheduling.daemon import Trigger, error_line, pid_alive
from webmon.scheduling.models import Schedule

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
HOST = socket.gethostname()


class Clock:
    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def shell(script: str):
    return lambda run: ["/bin/sh", "-c", script.replace("{run}", str(run.pk))]


def drain(trigger: Trigger, seconds: float = 20.0) -> None:
    """Reap until this daemon has no child left (real processes take real time)."""
    deadline = time.monotonic() + seconds
    while trigger.children and time.monotonic() < deadline:
        trigger.reap(trigger.clock())
        time.sleep(0.05)
    assert not trigger.children, "children still running"


class DaemonTestCase(TransactionTestCase):
    databases = {"default"}

    def setUp(self) -> None:
        # TransactionTestCase empties the DB after each test, not before; a module that ran
        # earlier in this process may have left schedules in the shared in-memory DB.
        Schedule.objects.all().delete()
        self.clock = Clock()
        self.tmp = Path(self.id().replace(".", "_"))
        self.out = Path("/tmp") / "crawlops-daemon-tests" / self.tmp
        self.out.mkdir(parents=True, exist_ok=True)

    def schedule(self, **values: object) -> Schedule:
        defaults = dict(name="s", crawl="demo", cron="*/5 * * * *", start_at=T0 - timedelta(days=1),
                        last_tick=T0 - timedelta(minutes=5), catchup="all", retries=0)
        defaults.update(values)
        return Schedule.objects.create(**defaults)

    def trigger(self, script: str = "exit 0", **values: object) -> Trigger:
        return Trigger(name=f"{HOST}:1", clock=self.clock, command=shell(script), output_dir=self.out,
                       kill_grace=2.0, **values)


class PlanTests(DaemonTestCase):
    def test_due_ticks_become_queued_runs_once(self) -> None:
        s = self.schedule(last_tick=T0 - timedelta(minutes=16))
        self.clock.advance(minutes=1)
        trigger = self.trigger()
        assert trigger.plan(self.clock())
        ticks = sorted(r.logical_time for r in s.runs.all())
        assert ticks == [T0 - timedelta(minutes=m) for m in (15, 10, 5, 0)]
        assert not trigger.plan(self.clock())  # nothing new
        assert s.runs.count() == 4

    def test_two_daemons_planning_the_same_schedule_insert_each_tick_once(self) -> None:
        s = self.schedule(last_tick=T0 - timedelta(hours=10), catchup="all")
        first, second = self.trigger(), Trigger(name=f"{HOST}:2", clock=self.clock, command=shell("exit 0"),
                                               output_dir=self.out)
        stale = Schedule.objects.get(pk=s.pk)
        first.plan(self.clock())
        second._plan_one(stale, self.clock())  # read before the first moved last_tick: its claim fails
        assert s.runs.count() == 120

    def test_catch_up_latest_skips_older_ticks_as_missed(self) -> None:
        s = self.schedule(last_tick=T0 - timedelta(minutes=20), catchup="latest")
        self.trigger().plan(self.clock())
        runs = {r.logical_time: r for r in s.runs.all()}
        assert runs[T0].state == "queued"
        assert [runs[T0 - timedelta(minutes=m)].reason for m in (5, 10, 15)] == ["missed"] * 3


class StartAndReapTests(DaemonTestCase):
    def test_a_run_goes_from_queued_to_running_to_success(self) -> None:
        s = self.schedule()
        trigger = self.trigger("echo hello from {run}")
        trigger.plan(self.clock())
        assert trigger.start(self.clock())
        run = s.runs.get()
        assert run.state == "running" and run.pid and run.attempts == 1
        drain(trigger)
        run.refresh_from_db()
        assert run.state == "success" and run.exit_code == 0
        assert f"hello from {run.pk}" in Path(run.output_path).read_text()
        s.refresh_from_db()
        assert s.last_success == self.clock()

    def test_a_failure_is_retried_with_backoff_then_fails(self) -> None:
        s = self.schedule(retries=1, retry_delay_seconds=60)
        trigger = self.trigger("echo 'ValueError: the site moved' >&2; exit 30")
        trigger.plan(self.clock())
        trigger.start(self.clock())
        drain(trigger)
        run = s.runs.get()
        assert run.state == "queued" and run.not_before == self.clock() + timedelta(seconds=60)
        assert not trigger.start(self.clock())  # not before its time
        self.clock.advance(seconds=61)
        assert trigger.start(self.clock())
        drain(trigger)
        run.refresh_from_db()
        assert run.state == "failed" and run.attempts == 2 and run.exit_code == 30
        assert "a task failed: ValueError: the site moved" in run.reason

    def test_overlap_skip_skips_a_tick_while_a_run_is_active(self) -> None:
        s = self.schedule(overlap="skip")
        trigger = self.trigger("sleep 30")
        trigger.plan(self.clock())
        trigger.start(self.clock())
        self.clock.advance(minutes=5)
        trigger.plan(self.clock())
        trigger.start(self.clock())
        second = s.runs.get(logical_time=T0 + timedelta(minutes=5))
        assert second.state == "skipped" and second.reason.startswith("overlap")
        self._kill_all(trigger)

    def test_overlap_queue_waits_for_the_active_run(self) -> None:
        s = self.schedule(overlap="queue")
        trigger = self.trigger("sleep 1")
        trigger.plan(self.clock())
        trigger.start(self.clock())
        self.clock.advance(minutes=5)
        trigger.plan(self.clock())
        trigger.start(self.clock())
        second = s.runs.get(logical_time=T0 + timedelta(minutes=5))
        assert second.state == "queued"
        drain(trigger)
        assert trigger.start(self.clock())
        second.refresh_from_db()
        assert second.state == "running"
        drain(trigger)

    def test_a_timeout_kills_the_whole_process_group(self) -> None:
        s = self.schedule(timeout_seconds=1)
        marker = self.out / "children"
        trigger = self.trigger(f"sleep 300 & echo $! > {marker}; sleep 300")
        trigger.plan(self.clock())
        trigger.start(self.clock())
        run = s.runs.get()
        deadline = time.monotonic() + 10
        while not (marker.exists() and marker.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.05)
        grandchild = int(marker.read_text())
        self.clock.advance(seconds=2)
        assert trigger.reap(self.clock())
        run.refresh_from_db()
        assert run.state == "timed_out"
        deadline = time.monotonic() + 5
        while (pid_alive(grandchild) or pid_alive(run.pid)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(run.pid) and not pid_alive(grandchild)

    def _kill_all(self, trigger: Trigger) -> None:
        for process in trigger.children.values():
            os.killpg(process.pid, signal.SIGKILL)
        drain(trigger)


class AdoptTests(DaemonTestCase):
    def test_a_new_daemon_adopts_a_live_run_and_judges_a_dead_one(self) -> None:
        s = self.schedule()
        old = self.trigger("sleep 1")
        old.plan(self.clock())
        old.start(self.clock())
        run = s.runs.get()
        # the old daemon is gone (its heartbeat is stale); its child lives on
        self.clock.advance(minutes=2)
        new = Trigger(name=f"{HOST}:2", clock=self.clock, command=shell("exit 0"), output_dir=self.out)
        new.heartbeat(self.clock())
        assert new.adopt(self.clock())
        run.refresh_from_db()
        assert run.claimed_by == f"{HOST}:2" and run.state == "running"
        old.children[run.pk].wait()  # reap the zombie (in production the old daemon is gone)
        deadline = time.monotonic() + 10
        while new.children and time.monotonic() < deadline:
            new.reap(self.clock())
            time.sleep(0.05)
        run.refresh_from_db()
        # the demo crawl's marker does not exist for this tick: judged failed, never run twice
        assert run.state == "failed" and run.attempts == 1


def test_the_error_line_is_the_last_exception(tmp_path: Path) -> None:
    out = tmp_path / "out.log"
    out.write_text("INFO: start\nTraceback (most recent call last):\n  File x\n"
                   "pipelines.exceptions.SpecError: demo.toml: fetch.delay: expected a number\nINFO: done\n")
    assert error_line(str(out)) == "pipelines.exceptions.SpecError: demo.toml: fetch.delay: expected a number"
    assert error_line(str(tmp_path / "missing")) == ""


@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")
def test_a_zombie_is_not_alive() -> None:
    import subprocess

    child = subprocess.Popen(["true"])
    deadline = time.monotonic() + 5
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(child.pid)
    child.wait()
