"""The trigger daemon: fires schedules as `python -m luigi --module M Task ...` processes.

Every kind of task is started the same way (the command comes from the
schedule's Luigi class and parameters: Schedule.luigi_args). Before a run
starts, its class and parameters are checked again and, for a crawl, its spec
(precheck.py). Each run's process gets
CRAWLOPS_SCHEDULED_RUN=<run id> in its environment, so its run records can be
tied to the run.

A loop of small steps, each returning whether it did work (Healthchecks'
`sendalerts` is the model); the daemon sleeps only when a whole round did
nothing. Every step is safe with several daemons on one database:

- `plan`: compute the due ticks of each enabled schedule (catch-up policy
  applied) and claim them by moving the schedule's `last_tick` forward with
  a conditional UPDATE; only the daemon whose update hit the row inserts the
  runs (and a unique constraint on (schedule, tick, trigger) backs that up).
- `start`: queued runs whose time has come are claimed one by one with a
  conditional UPDATE (queued -> running), after the overlap rule and the
  maximum of active runs; the claimer spawns the process in its own process
  group with its output in a per-run file.
- `reap`: exit codes of this daemon's children; a failure is queued again
  with backoff while retries remain; a timeout kills the whole process group.
- `adopt`: runs left running by a daemon that stopped (SIGTERM, crash) on this
  host: a live process is watched until it ends; a dead one is judged by the
  tick's completion marker, so nothing runs twice and nothing is lost.
  Runs of a lost host (no daemon of that host has beaten for
  `host_lost_after`, and no run record of the run beats) are queued again,
  so a daemon of another host runs them (`_take_over`).
- `late`: schedules whose tick passed its grace period without a success.
- `notify`: notices for down and recovered schedules, and for ticks whose
  items broke their crawl's [monitors] (recorded when a run's attempt ends:
  quality.py).
- `sweep`: every few seconds, run records of dead workers are marked killed
  (pipelines/runs/sweep.py: same-host pids that are gone at once, other
  hosts by a stale heartbeat), with no task having to start.

SIGTERM sets a flag: the loop finishes its step and exits; running crawls go
on in their own process groups and the next daemon adopts them.

Several hosts (docs/operations.md, "Several worker hosts"): a daemon on each
worker host, all on one webmon DB (PostgreSQL), one luigid. Each daemon runs
at most `slots` runs at once (TRIGGER_SLOTS; 0: no limit) and takes queued
runs in tick order, so ticks spread over the hosts with room. luigid's
`[resources]` limits hold across hosts: a run luigid did not grant (exit 25)
or whose task another worker runs (exit 10) waits and is tried again after
`wait_seconds`; that is not an attempt, so it uses no retry.
"""

from __future__ import annotations

import logging
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, F, Q
from django.utils.timezone import now as utcnow

from pipelines.runs.sweep import HistorySweeper
from webmon.scheduling.models import DaemonHeartbeat, Schedule, ScheduledRun
from webmon.scheduling.precheck import run_problem
from webmon.scheduling.ticks import due_ticks

log = logging.getLogger("webmon.scheduling")

# luigi.cfg [retcode]: what a non-zero exit means, for the run's reason.
RETCODES = {10: "already running elsewhere", 20: "missing data", 25: "not run", 30: "a task failed",
            35: "scheduling error (e.g. a broken spec)", 40: "unhandled exception"}

# Exit codes of a run that did not run its task (luigid refused, or another worker runs it): it waits.
WAITING = {25: "waiting: luigid did not grant run permission (a [resources] limit is full)",
           10: "waiting: its task is being run by another worker"}
HEARTBEATS_KEPT = timedelta(days=7)  # rows of daemons silent longer (and claiming no run) are deleted
HOST_LOSSES = 3  # a tick that loses its host this often fails: it may be what kills its hosts

LUIGI_ERROR = "ERROR: "  # how luigi's console logger starts an error line (luigi.setup_logging)


def _minute(dt: datetime) -> datetime:
    return dt.replace(second=0, microsecond=0)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is dead for our purposes
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


@dataclass
class Trigger:
    """One daemon. `clock` and `command` are injectable for tests."""

    name: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    clock: Callable[[], datetime] = utcnow
    command: Callable[[ScheduledRun], list[str]] | None = None
    output_dir: Path = field(default_factory=lambda: Path(settings.RUN_OUTPUT_DIR))
    kill_grace: float = 10.0
    stale_after: timedelta = timedelta(seconds=30)  # a daemon silent this long has stopped
    clock_speed: float = 1.0  # fake seconds per real second (a benchmark's fast clock)
    children: dict[int, subprocess.Popen | _Adopted] = field(default_factory=dict)  # run id -> process
    stopping: bool = False
    slots: int = field(default_factory=lambda: settings.TRIGGER_SLOTS)  # runs at once on this host; 0: no limit
    host_lost_after: timedelta = field(default_factory=lambda: timedelta(seconds=settings.TRIGGER_HOST_LOST_S))
    wait_seconds: float = 5.0  # before a run luigid did not grant (exit 25 or 10) is tried again
    sweep_every: float = 5.0  # real seconds between sweeps of the run records
    sweeper: HistorySweeper | None = None  # None: the history DB of luigi.cfg, made at the first sweep
    _next_sweep: float = field(default=0.0, repr=False)  # time.monotonic() of the next sweep

    # -- the loop ----------------------------------------------------------
    def run_forever(self, idle_sleep: float = 1.0) -> None:
        signal.signal(signal.SIGTERM, self._on_sigterm)
        signal.signal(signal.SIGINT, self._on_sigterm)
        log.info("trigger daemon %s started", self.name)
        while not self.stopping:
            if not self.tick():
                self._sleep(self.seconds_to_next_work(self.clock(), idle_sleep))
        log.info("trigger daemon %s stopped; %d running crawls left to the next daemon", self.name,
                 len(self.children))
        # Stopped cleanly: its row would only clutter the Workers page. Kept while a run it claimed still
        # runs: until the next daemon adopts it, other hosts judge the host by this last beat.
        if not ScheduledRun.objects.filter(state=ScheduledRun.RUNNING, claimed_by=self.name).exists():
            DaemonHeartbeat.objects.filter(name=self.name).delete()

    def tick(self) -> bool:
        """One round of every step; True if any did work."""
        now = self.clock()
        self.heartbeat(now)
        did = False
        for step in (self.adopt, self.reap, self.plan, self.start, self.late, self.notify, self.sweep):
            if self.stopping:
                break
            try:
                did = step(now) or did
            except Exception:  # one bad schedule or a DB hiccup must not kill the daemon
                log.exception("trigger step %s failed", step.__name__)
        return did

    def seconds_to_next_work(self, now: datetime, longest: float) -> float:
        """How long an idle daemon may sleep: until the next tick or retry, at most `longest`.

        Waking exactly at a tick (not up to a second late) is most of the
        trigger latency a sleeping loop would add.
        """
        times = [t for t in (
            Schedule.objects.filter(enabled=True, next_due__isnull=False).order_by("next_due")
            .values_list("next_due", flat=True).first(),
            ScheduledRun.objects.filter(state=ScheduledRun.QUEUED, not_before__isnull=False)
            .order_by("not_before").values_list("not_before", flat=True).first(),
        ) if t is not None]
        if self.children:
            longest = min(longest, 0.2)  # reap promptly
        if not times:
            return longest
        return max(0.01, min(longest, (min(times) - now).total_seconds() / self.clock_speed))

    def _on_sigterm(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _sleep(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stopping:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(0.1, left))  # short naps: SIGTERM is noticed within 0.1 s

    def heartbeat(self, now: datetime) -> None:
        updated = DaemonHeartbeat.objects.filter(name=self.name).update(beat_at=now, slots=self.slots)
        if not updated:
            DaemonHeartbeat.objects.create(name=self.name, started_at=now, beat_at=now, slots=self.slots)
            # A new daemon (or `trigger --once` from cron, a new pid each minute) clears rows of daemons
            # gone for a week that claim no running run: the table stays small.
            claimers = ScheduledRun.objects.filter(state=ScheduledRun.RUNNING).values("claimed_by")
            DaemonHeartbeat.objects.filter(beat_at__lt=now - HEARTBEATS_KEPT).exclude(name__in=claimers).delete()

    # -- plan: due ticks -> runs -----------------------------------------------
    def plan(self, now: datetime) -> bool:
        did = False
        for schedule in Schedule.objects.filter(enabled=True).exclude(state=Schedule.PAUSED):
            did = self._plan_one(schedule, now) or did
        return did

    def _plan_one(self, schedule: Schedule, now: datetime) -> bool:
        cadence = schedule.cadence()
        due = due_ticks(cadence, schedule.last_tick, now, schedule.catchup,
                        grace=timedelta(seconds=schedule.grace_seconds))
        ticks = due.fire + due.missed
        upcoming = schedule.upcoming(now, 1)
        next_due = upcoming[0] if upcoming else None
        if not ticks:
            if schedule.next_due != next_due:
                Schedule.objects.filter(pk=schedule.pk).update(next_due=next_due)
            return False
        newest = max(ticks)
        # The claim: only one daemon moves last_tick from what it read.
        claimed = Schedule.objects.filter(pk=schedule.pk, last_tick=schedule.last_tick).update(
            last_tick=newest, next_due=next_due)
        if not claimed:
            return False
        from webmon.scheduling import states

        for tick in due.missed:
            run = self._insert(schedule, tick, state=ScheduledRun.SKIPPED, reason="missed", finished_at=now)
            if run is not None:
                states.record_outcome(schedule, run, now)
        for tick in due.fire:
            jitter = random.uniform(0, schedule.jitter_seconds) if schedule.jitter_seconds else 0
            self._insert(schedule, tick, state=ScheduledRun.QUEUED, params=schedule.params or {},
                         not_before=tick + timedelta(seconds=jitter) if jitter else None)
        return True

    def _insert(self, schedule: Schedule, tick: datetime, **values: object) -> ScheduledRun | None:
        try:
            with transaction.atomic():
                return ScheduledRun.objects.create(schedule=schedule, logical_time=tick,
                                                   trigger=ScheduledRun.SCHEDULE, **values)
        except IntegrityError:
            return None  # another daemon inserted this tick

    # -- start: queued -> running ---------------------------------------------
    def start(self, now: datetime) -> bool:
        queued = (ScheduledRun.objects.filter(state=ScheduledRun.QUEUED)
                  .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
                  .select_related("schedule").order_by("logical_time", "id"))
        active = dict(ScheduledRun.objects.filter(state=ScheduledRun.RUNNING)
                      .values_list("schedule").annotate(n=Count("id")))
        did = False
        for run in queued[:100]:
            if self.slots and len(self.children) >= self.slots:
                break  # this host is full: a daemon of another host, or this one later, takes the rest
            schedule = run.schedule
            running = active.get(schedule.pk, 0)
            if running and (running >= schedule.max_active_runs or schedule.overlap != Schedule.ALLOW):
                if schedule.overlap == Schedule.SKIP and run.trigger == ScheduledRun.SCHEDULE and run.attempts == 0:
                    ScheduledRun.objects.filter(pk=run.pk, state=ScheduledRun.QUEUED).update(
                        state=ScheduledRun.SKIPPED, finished_at=now,
                        reason=f"overlap: {running} run(s) still active")
                    did = True
                continue  # queue: wait for the active run to end
            claimed = ScheduledRun.objects.filter(pk=run.pk, state=ScheduledRun.QUEUED).update(
                state=ScheduledRun.RUNNING, claimed_by=self.name, started_at=now, finished_at=None,
                attempts=F("attempts") + 1, exit_code=None)
            if not claimed:
                continue
            run.refresh_from_db()
            self._spawn(run)
            active[schedule.pk] = running + 1
            did = True
        return did

    def default_command(self, run: ScheduledRun) -> list[str]:
        """`python -m luigi --module M Task --param value ... --scheduler-url URL` for one run.

        Raises TaskKindError / TaskParamsError when the schedule no longer fits its
        class; `_spawn` checks that first (precheck.run_problem).
        """
        from webmon.scheduling.taskparams import tick_values

        schedule = run.schedule
        ticks = tick_values(schedule.kind().cls, run.logical_time.astimezone(UTC))
        return [sys.executable, "-m", "luigi", *schedule.luigi_args(ticks, overrides=run.params or None),
                "--scheduler-url", settings.LUIGID_URL]  # the luigid webmon watches

    def _spawn(self, run: ScheduledRun) -> None:
        folder = self.output_dir / str(run.schedule_id)
        folder.mkdir(parents=True, exist_ok=True)
        output = folder / f"{run.pk}-{run.attempts}.log"
        problem = run_problem(run) if self.command is None else None  # a test's own command is not checked
        try:
            command = (self.command or self.default_command)(run)
        except Exception as exc:  # noqa: BLE001 - the task no longer fits its schedule (problem says why)
            command = ["python", "-m", "luigi", "...", run.schedule.task]
            problem = problem or str(exc) or type(exc).__name__
        if problem is not None:
            self._refuse(run, output, command, problem)
            return
        # The run links luigid shows point where this daemon's notices do (pipelines/stack.py reads it);
        # CRAWLOPS_SCHEDULED_RUN ties the run records its tasks write to this run (pipelines/runs/context.py).
        env = {**os.environ, "TZ": "UTC", "WEBMON_BASE_URL": settings.WEBMON_BASE_URL,
               "CRAWLOPS_SCHEDULED_RUN": str(run.pk)}
        try:
            with open(output, "ab") as out:
                out.write(f"$ {' '.join(command)}\n".encode())
                out.flush()
                # Its own session and process group: a timeout kills the crawl's whole tree.
                process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=out,
                                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                           start_new_session=True)
        except OSError as exc:
            ScheduledRun.objects.filter(pk=run.pk).update(
                state=ScheduledRun.FAILED, finished_at=self.clock(), reason=f"cannot start: {exc}")
            return
        self.children[run.pk] = process
        ScheduledRun.objects.filter(pk=run.pk).update(pid=process.pid, output_path=str(output))
        log.info("started %s (pid %d)", run, process.pid)

    def _refuse(self, run: ScheduledRun, output: Path, command: list[str], sentence: str) -> None:
        """Fail a run that cannot work without starting it (a broken spec, a class or parameters that no
        longer fit): the sentence is its reason.

        Final, not retried (precheck.py says why); the output file holds the sentence too.
        """
        from webmon.scheduling import states

        now = self.clock()
        try:
            with open(output, "ab") as out:
                out.write(f"$ {' '.join(command)}\nnot started: {sentence}\n".encode())
        except OSError:
            output = Path()
        if ScheduledRun.objects.filter(pk=run.pk, state=ScheduledRun.RUNNING).update(
                state=ScheduledRun.FAILED, finished_at=now, reason=sentence,
                output_path=str(output) if output.name else ""):
            run.refresh_from_db()
            states.record_outcome(run.schedule, run, now)
        log.info("%s not started: %s", run, sentence)

    # -- reap: exit codes, retries, timeouts ---------------------------------
    def reap(self, now: datetime) -> bool:
        did = False
        for run_id, process in list(self.children.items()):
            code = process.poll()
            run = ScheduledRun.objects.select_related("schedule").filter(pk=run_id).first()
            if run is None:
                self.children.pop(run_id)
                continue
            if code is None:
                if self._timed_out(run, now):
                    self._kill_group(process.pid)
                    process.wait()
                    self.children.pop(run_id)
                    self._finish(run, now, None, timed_out=True)
                    did = True
                continue
            self.children.pop(run_id)
            if isinstance(process, _Adopted):  # not our child: its exit code is gone, the marker tells
                code = 0 if tick_complete(run) else 1
            self._finish(run, now, code)
            did = True
        return did

    def _timed_out(self, run: ScheduledRun, now: datetime) -> bool:
        limit = run.schedule.timeout_seconds
        return bool(limit and run.started_at and now - run.started_at > timedelta(seconds=limit))

    def _kill_group(self, pid: int) -> None:
        try:
            os.killpg(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + self.kill_grace
        while time.monotonic() < deadline:
            try:
                os.killpg(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def _finish(self, run: ScheduledRun, now: datetime, code: int | None, timed_out: bool = False,
                lost: str = "") -> None:
        from webmon.scheduling import states

        schedule = run.schedule
        if code in WAITING and not timed_out:
            wait_until = now + timedelta(seconds=self.wait_seconds * random.uniform(1.0, 1.5))
            if ScheduledRun.objects.filter(pk=run.pk, state=ScheduledRun.RUNNING).update(
                    state=ScheduledRun.QUEUED, exit_code=code, not_before=wait_until, pid=None, claimed_by="",
                    attempts=F("attempts") - 1, reason=f"{WAITING[code]}; tried again at {wait_until:%H:%M:%S}"):
                log.info("%s: %s", run, WAITING[code])
            return
        if code == 0:
            state, reason = ScheduledRun.SUCCESS, ""
        elif timed_out:
            state, reason = ScheduledRun.TIMED_OUT, f"timed out after {schedule.timeout_seconds} s"
        elif lost:
            state, reason = ScheduledRun.FAILED, lost
        else:
            state = ScheduledRun.FAILED
            reason = f"exit code {code}: {RETCODES.get(code or 0, 'failed')}"
            line = error_line(run.output_path)
            if line:
                reason += f": {line}"
        if state != ScheduledRun.SUCCESS and run.attempts <= schedule.retries and not lost:
            retry_at = now + schedule.retry_delay(run.attempts)
            if ScheduledRun.objects.filter(pk=run.pk, state=ScheduledRun.RUNNING).update(
                    state=ScheduledRun.QUEUED, exit_code=code, not_before=retry_at, pid=None,
                    reason=f"{reason}; retry {run.attempts} of {schedule.retries} at {retry_at:%H:%M:%S}"):
                self._tick_notices(run, now)  # at the first attempt that stored, not after the last retry
            log.info("%s: %s; retrying at %s", run, reason, retry_at)
            return
        updated = ScheduledRun.objects.filter(pk=run.pk, state=ScheduledRun.RUNNING).update(
            state=state, exit_code=code, finished_at=now, reason=reason)
        if updated:
            run.refresh_from_db()
            if state == ScheduledRun.SUCCESS:
                Schedule.objects.filter(pk=schedule.pk).update(last_success=now)
            states.record_outcome(schedule, run, now)
            self._tick_notices(run, now)
            log.info("%s: %s %s", run, state, reason)

    def _tick_notices(self, run: ScheduledRun, now: datetime) -> None:
        """The tick's data-quality notice and its limit notice, each once per ScheduledRun (quality.py, limits.py)."""
        from webmon.scheduling import limits, quality

        for check in (quality, limits):
            try:
                check.record(run, now)
            except Exception:  # noqa: BLE001 - a notice must not cost the run its outcome
                log.exception("%s: %s check failed", run, check.__name__.rpartition(".")[2])

    # -- adopt: runs of daemons that stopped ----------------------------------
    def adopt(self, now: datetime) -> bool:
        alive = set(DaemonHeartbeat.objects.filter(beat_at__gte=now - self.stale_after)
                    .values_list("name", flat=True))
        alive.add(self.name)
        host = socket.gethostname()
        did = False
        orphans = ScheduledRun.objects.filter(state=ScheduledRun.RUNNING).exclude(claimed_by__in=alive)
        for run in orphans.select_related("schedule"):
            if not run.claimed_by.startswith(host + ":"):
                # Another host's: only that host can see its processes, unless the host is lost.
                did = self._take_over(run, now) or did
                continue
            if run.pid and pid_alive(run.pid):
                if ScheduledRun.objects.filter(pk=run.pk, claimed_by=run.claimed_by).update(claimed_by=self.name):
                    log.info("adopted %s (pid %d, still running)", run, run.pid)
                    self.children[run.pk] = _Adopted(run.pid)
                    did = True
                continue
            if ScheduledRun.objects.filter(pk=run.pk, claimed_by=run.claimed_by).update(claimed_by=self.name):
                run.refresh_from_db()
                self._finish(run, now, 0 if tick_complete(run) else 1)
                did = True
        return did

    def _take_over(self, run: ScheduledRun, now: datetime) -> bool:
        """Queue again a run of a lost host, for any host's daemon to start; False while the host may live.

        Lost: no daemon of the run's host has beaten for `host_lost_after`
        (a daemon restarted on that host adopts the run itself) and no run
        record of the run is alive by the sweep's rule (its crawl may outlive
        its daemon). The lost attempt's records are marked killed by the sweep
        (stale heartbeat); luigid frees the task when it prunes the dead
        worker ([scheduler] worker_disconnect_delay), and until then the new
        attempt waits (exit 10). Not a retry: the attempt does not count, but a
        tick that loses its host HOST_LOSSES times fails.
        """
        claimer_host = run.claimed_by.rsplit(":", 1)[0]
        since = now - self.host_lost_after
        if DaemonHeartbeat.objects.filter(name__startswith=claimer_host + ":", beat_at__gte=since).exists():
            return False
        if run.started_at and run.started_at >= since:
            return False  # claimed lately: give its records time to appear
        if self._records_alive(run, now):
            return False
        last = (DaemonHeartbeat.objects.filter(name=run.claimed_by).values_list("beat_at", flat=True).first())
        seen = f"{last.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC" if last else "never"
        losses = run.host_losses + 1
        why = f"host {claimer_host} lost (its daemon last beat {seen})"
        if losses >= HOST_LOSSES:
            if ScheduledRun.objects.filter(pk=run.pk, claimed_by=run.claimed_by, state=ScheduledRun.RUNNING).update(
                    claimed_by=self.name, host_losses=losses):
                run.refresh_from_db()
                self._finish(run, now, None, lost=f"{why}; it lost its host {losses} times")
                return True
            return False
        taken = ScheduledRun.objects.filter(pk=run.pk, claimed_by=run.claimed_by, state=ScheduledRun.RUNNING).update(
            state=ScheduledRun.QUEUED, claimed_by="", pid=None, not_before=now, host_losses=losses,
            attempts=F("attempts") - 1, reason=f"{why}; queued again to run on another host")
        if taken:
            log.warning("%s: %s; queued again", run, why)
        return bool(taken)

    def _records_alive(self, run: ScheduledRun, now: datetime) -> bool:
        """Whether a run record of this scheduled run is running and beat within `[runs] dead_after_seconds`
        (the sweep's own rule for a live record: records beat every `heartbeat_seconds`)."""
        if self.sweeper is None:
            self.sweeper = HistorySweeper.from_config(Path(settings.BASE_DIR))
        try:
            return self.sweeper.scheduled_run_alive(run.pk, now - timedelta(seconds=self.sweeper.dead_after))
        except Exception:  # noqa: BLE001 - an unreadable history cannot prove the run alive
            log.exception("cannot read the run records of %s", run)
            return False

    # -- late and notices ---------------------------------------------------------
    def late(self, now: datetime) -> bool:
        from webmon.scheduling import states

        did = False
        for schedule in Schedule.objects.filter(enabled=True, state__in=[Schedule.NEW, Schedule.UP]):
            pending = schedule.runs.filter(trigger=ScheduledRun.SCHEDULE,
                                           state__in=[ScheduledRun.QUEUED, ScheduledRun.RUNNING],
                                           logical_time__lt=now - timedelta(seconds=schedule.grace_seconds))
            if pending.exists() and states.mark_late(schedule, now) is not None:
                did = True
        return did

    def notify(self, now: datetime) -> bool:
        from webmon.scheduling import notify

        return notify.send_pending(now) > 0

    # -- sweep: run records of dead workers ------------------------------------
    def sweep(self, now: datetime) -> bool:
        """Mark the run records of dead workers killed, every `sweep_every` seconds.

        Heartbeats are real time, so the sweep reads the real clock, not `now`
        (a test's or a benchmark's clock). Cheap when nothing runs: one indexed
        query. An unreadable or stock-Luigi history DB is reported, never raised.
        """
        if time.monotonic() < self._next_sweep:
            return False
        self._next_sweep = time.monotonic() + self.sweep_every
        if self.sweeper is None:
            self.sweeper = HistorySweeper.from_config(Path(settings.BASE_DIR))
        return bool(self.sweeper.sweep(datetime.now(UTC)))


class _Adopted:
    """A process this daemon did not start: it can be watched, not waited for."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        return None if pid_alive(self.pid) else -1

    def wait(self) -> int:
        while pid_alive(self.pid):
            time.sleep(0.1)
        return -1


def tick_complete(run: ScheduledRun) -> bool:
    """Whether the run's task is complete (Luigi's complete(): a crawl's is its tick's marker in the items DB)."""
    from webmon.scheduling.taskparams import check, tick_values

    try:
        schedule = run.schedule
        cls = schedule.kind().cls
        values = check(cls, schedule.task_values(run.params or None))
        for name, text in tick_values(cls, run.logical_time.astimezone(UTC)).items():
            param = dict(cls.get_params())[name]
            values[name] = param.normalize(param.parse(text))
        return bool(cls(**values).complete())
    except Exception:  # noqa: BLE001 - unknown means not complete: the retry rules decide
        log.exception("cannot check the completion of %s", run)
        return False


def error_line(path: str, limit: int = 64 * 1024) -> str:
    """The most telling line of a run's output: the last exception or luigi ERROR line, else the last line.

    Bad input is printed by luigi as one ERROR line without a traceback (pipelines/cli_errors.py):
    a broken spec's "ERROR: pipelines/crawls/shop.toml: fetch.concurrency: ..." gives its sentence.
    """
    if not path:
        return ""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - limit))
            tail = fh.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return ""
    lines = [line.strip() for line in tail if line.strip()]
    for line in reversed(lines):
        if line.startswith(LUIGI_ERROR):
            return line[len(LUIGI_ERROR):][:500]
        head = line.split(":", 1)[0]
        if head.endswith(("Error", "Exception", "Exceeded", "Aborted")) and " " not in head:
            return line[:500]
    return lines[-1][:500] if lines else ""
