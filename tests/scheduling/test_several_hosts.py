"""The trigger daemon with daemons on several hosts sharing one webmon DB: slots, waiting runs, lost hosts.

Steps are driven with an injected clock and real child processes, as in
test_daemon.py; the daemons of "other" hosts are names in the heartbeat
table. The end-to-end case (daemons in network namespaces, a host killed
mid-crawl) is tests/cluster/test_cluster_daemons.py.
"""

from __future__ import annotations

import socket
from datetime import timedelta
from pathlib import Path

from pipelines.runs import records
from pipelines.runs.sweep import HistorySweeper
from tests.scheduling.test_daemon import DaemonTestCase, drain
from webmon.scheduling.daemon import HOST_LOSSES, Trigger
from webmon.scheduling.models import DaemonHeartbeat, ScheduledRun

HOST = socket.gethostname()


class SlotsTests(DaemonTestCase):
    def test_a_daemon_runs_at_most_its_slots_and_another_hosts_daemon_takes_the_rest(self) -> None:
        s = self.schedule(last_tick=self.clock() - timedelta(minutes=25), overlap="allow", max_active_runs=10)
        here = self.trigger("sleep 5", slots=2)
        there = Trigger(name="host-b:1", clock=self.clock, command=here.command, output_dir=self.out, slots=2)
        here.plan(self.clock())
        assert s.runs.filter(state="queued").count() == 5
        here.start(self.clock())
        there.start(self.clock())
        try:
            running = s.runs.filter(state="running")
            assert sorted(running.values_list("claimed_by", flat=True)) == sorted([f"{HOST}:1"] * 2 + ["host-b:1"] * 2)
            # Oldest ticks first, whichever daemon claimed them.
            assert set(running.values_list("logical_time", flat=True)) == set(
                s.runs.order_by("logical_time").values_list("logical_time", flat=True)[:4])
            assert not here.start(self.clock())  # full
        finally:
            for trigger in (here, there):
                for process in trigger.children.values():
                    process.kill()
                drain(trigger)


class WaitingTests(DaemonTestCase):
    def test_a_run_luigid_did_not_grant_waits_without_using_a_retry_then_runs(self) -> None:
        s = self.schedule(retries=0)
        flag = self.out / "granted"
        flag.unlink(missing_ok=True)
        # exit 25 (luigi's not_run: "not granted run permission by the scheduler") until the flag exists
        trigger = self.trigger(f"test -e {flag} || exit 25")
        trigger.plan(self.clock())
        trigger.start(self.clock())
        drain(trigger)
        run = s.runs.get()
        assert run.state == "queued" and run.attempts == 0 and run.exit_code == 25
        assert run.reason.startswith("waiting: luigid did not grant run permission (a [resources] limit is full)")
        assert run.not_before > self.clock()
        assert not trigger.start(self.clock())  # not before the wait is over
        self.clock.advance(seconds=10)
        flag.touch()
        assert trigger.start(self.clock())
        drain(trigger)
        run.refresh_from_db()
        assert run.state == "success" and run.attempts == 1  # retries=0, yet it ran: waiting is no attempt

    def test_a_run_whose_task_another_worker_runs_waits(self) -> None:
        s = self.schedule(retries=0)
        trigger = self.trigger("exit 10")
        trigger.plan(self.clock())
        trigger.start(self.clock())
        drain(trigger)
        run = s.runs.get()
        assert run.state == "queued" and run.reason.startswith("waiting: its task is being run by another worker")

    def test_a_real_failure_still_fails(self) -> None:
        s = self.schedule(retries=0)
        trigger = self.trigger("exit 30")
        trigger.plan(self.clock())
        trigger.start(self.clock())
        drain(trigger)
        assert s.runs.get().state == "failed"


class LostHostTests(DaemonTestCase):
    def setUp(self) -> None:
        super().setUp()
        DaemonHeartbeat.objects.all().delete()
        self.history = f"sqlite:///{self.out}/history.db"
        Path(self.out, "history.db").unlink(missing_ok=True)
        records.create_tables(records.engine_for(self.history))

    def daemon(self, script: str = "exit 0") -> Trigger:
        return self.trigger(script, host_lost_after=timedelta(seconds=60),
                            sweeper=HistorySweeper(self.history, dead_after=60))

    def run_on_host_a(self) -> ScheduledRun:
        """A run that host-a's daemon claimed and started, then host-a went silent."""
        s = self.schedule()
        self.daemon().plan(self.clock())
        run = s.runs.get()
        started = self.clock()
        DaemonHeartbeat.objects.create(name="host-a:7", started_at=started, beat_at=started)
        ScheduledRun.objects.filter(pk=run.pk).update(state="running", claimed_by="host-a:7", pid=4242,
                                                      started_at=started, attempts=1)
        run.refresh_from_db()
        return run

    def test_the_run_of_a_host_silent_too_long_is_queued_again_and_runs_here(self) -> None:
        run = self.run_on_host_a()
        here = self.daemon()
        self.clock.advance(seconds=30)
        here.heartbeat(self.clock())
        assert not here.adopt(self.clock())  # silent for 30 s only: the host may be slow
        run.refresh_from_db()
        assert run.state == "running" and run.claimed_by == "host-a:7"
        self.clock.advance(seconds=61)
        here.heartbeat(self.clock())
        assert here.adopt(self.clock())
        run.refresh_from_db()
        assert run.state == "queued" and run.claimed_by == "" and run.attempts == 0 and run.host_losses == 1
        assert run.reason.startswith("host host-a lost (its daemon last beat 2026-11-21 12:00:00 UTC)")
        assert here.start(self.clock())
        drain(here)
        run.refresh_from_db()
        assert run.state == "success" and run.claimed_by == f"{HOST}:1" and run.attempts == 1

    def test_a_host_whose_other_daemon_beats_keeps_its_run(self) -> None:
        run = self.run_on_host_a()
        self.clock.advance(seconds=120)
        DaemonHeartbeat.objects.create(name="host-a:8", started_at=self.clock(), beat_at=self.clock())
        here = self.daemon()
        here.heartbeat(self.clock())
        assert not here.adopt(self.clock())  # host-a's new daemon adopts it; not ours to take
        run.refresh_from_db()
        assert run.state == "running" and run.claimed_by == "host-a:7"

    def test_a_run_whose_records_still_beat_is_left_to_its_host(self) -> None:
        run = self.run_on_host_a()
        engine = records.engine_for(self.history)
        record, _ = records.create_run(engine, task_id="FetchPages_x", family="FetchPages", crawl="demo", params="{}",
                                       host="host-a", pid=4243, worker="w", now=self.clock())
        records.record_deps(engine, record, requires=[], scheduled_run=run.pk, worker="w")
        self.clock.advance(seconds=120)
        records.beat(engine, record, self.clock() - timedelta(seconds=5))  # the crawl lives on, its daemon died
        here = self.daemon()
        here.heartbeat(self.clock())
        assert not here.adopt(self.clock())
        assert ScheduledRun.objects.get(pk=run.pk).state == "running"
        self.clock.advance(seconds=120)  # now its records are silent too
        here.heartbeat(self.clock())
        assert here.adopt(self.clock())
        assert ScheduledRun.objects.get(pk=run.pk).state == "queued"

    def test_a_tick_that_loses_its_host_again_and_again_fails(self) -> None:
        run = self.run_on_host_a()
        ScheduledRun.objects.filter(pk=run.pk).update(host_losses=HOST_LOSSES - 1)
        self.clock.advance(seconds=120)
        here = self.daemon()
        here.heartbeat(self.clock())
        assert here.adopt(self.clock())
        run.refresh_from_db()
        assert run.state == "failed" and run.host_losses == HOST_LOSSES
        assert run.reason.endswith(f"it lost its host {HOST_LOSSES} times")


class HeartbeatRowsTests(DaemonTestCase):
    def test_a_new_daemon_deletes_rows_of_daemons_gone_a_week_unless_they_claim_a_running_run(self) -> None:
        DaemonHeartbeat.objects.all().delete()
        old = self.clock() - timedelta(days=8)
        for name in ("host-a:1", "host-a:2", "host-b:3"):
            DaemonHeartbeat.objects.create(name=name, started_at=old, beat_at=old)
        DaemonHeartbeat.objects.create(name="host-b:4", started_at=self.clock(), beat_at=self.clock() - timedelta(days=6))
        s = self.schedule()
        self.trigger().plan(self.clock())
        s.runs.update(state="running", claimed_by="host-a:2")  # a run its host never finished: its row stays
        self.trigger().heartbeat(self.clock())
        assert sorted(DaemonHeartbeat.objects.values_list("name", flat=True)) == sorted([f"{HOST}:1", "host-a:2", "host-b:4"])
