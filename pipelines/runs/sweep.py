"""The sweep: runs whose process died (SIGKILL, OOM, power) are marked killed.

A live run refreshes `heartbeat_at` every `[runs] heartbeat_seconds`. Two
rules, both idempotent (they touch only rows still `running`):

- a running record whose heartbeat is older than `[runs] dead_after_seconds`
  is killed, wherever it ran;
- a running record of THIS host whose pid no longer exists is killed at once
  (no need to wait for the heartbeat to go stale).

`finished_at` becomes the last heartbeat: the last moment the run was known
alive. Each killed run is added to the run totals (totals.py) in the same
transaction. Who sweeps:

- the trigger daemon (`manage.py trigger`), every few seconds, through
  `HistorySweeper`: dead attempts are marked killed with no other task
  running. It never creates our tables and never fails on a history DB that
  is missing, unreadable or a stock Luigi one without crawl_runs;
- every task attempt, before it starts (pipelines/runs/context.py);
- by hand or from cron, where no daemon runs:

    python -m pipelines.runs.sweep            # uses luigi.cfg ([task_history], [runs])

If a swept process was only stalled, its next heartbeat sets the record back
to running (records.beat), and its end overwrites the status.
"""

from __future__ import annotations

import argparse
import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipelines.runs.models import KILLED, RUNNING, run_deps, runs
from pipelines.runs.records import engine_for, new_engine, utcnow
from pipelines.runs.settings import history_url, validate
from pipelines.runs.settings import runs as runs_config
from pipelines.runs.totals import Outcome, in_one_transaction

log = logging.getLogger("pipelines.runs.sweep")


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host and is not a zombie."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)  # signal 0: checks, sends nothing
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    try:
        # A killed worker whose parent has not reaped it yet is a zombie: dead all the same.
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True  # no /proc (not Linux): the signal said it exists
    return state != "Z"


def sweep(engine: Engine, now: datetime, dead_after: float, *, host: str | None = None,
          alive: Callable[[int], bool] = pid_alive) -> list[int]:
    """Mark dead runs killed, and count them in the run totals; returns their ids.

    `now` is aware UTC, `dead_after` seconds. Each run is killed by its own
    conditional UPDATE (still running, same heartbeat), so a run that beat in
    between stays running and no run is counted twice.
    """
    host = socket.gethostname() if host is None else host
    cutoff = now - timedelta(seconds=dead_after)
    killed: list[int] = []

    def change(conn: Connection) -> list[Outcome]:
        killed.clear()
        outcomes: list[Outcome] = []

        def kill(row: sa.engine.Row, why: str) -> None:
            result = conn.execute(runs.update()
                                  .where(runs.c.id == row.id, runs.c.status == RUNNING,
                                         runs.c.heartbeat_at == row.heartbeat_at)
                                  .values(status=KILLED, finished_at=runs.c.heartbeat_at, error_message=why))
            if result.rowcount:
                killed.append(row.id)
                outcomes.append(Outcome(row.family, row.crawl, KILLED, row.started_at, row.heartbeat_at))

        # One query, served by the (status, heartbeat_at) index: when nothing runs it reads nothing,
        # which is what lets the trigger daemon sweep every few seconds.
        columns = (runs.c.id, runs.c.family, runs.c.crawl, runs.c.started_at, runs.c.heartbeat_at, runs.c.pid,
                   runs.c.host)
        suspects = sa.select(*columns).where(runs.c.status == RUNNING,
                                             sa.or_(runs.c.heartbeat_at < cutoff, runs.c.host == host))
        for row in conn.execute(suspects).all():
            if row.heartbeat_at < cutoff:
                kill(row, f"no heartbeat for more than {dead_after:g} s: the worker died")
            elif row.host == host and row.pid != os.getpid() and not alive(row.pid):
                kill(row, f"process {row.pid} on {host} is gone: the worker died")
        return outcomes

    in_one_transaction(engine, change, "the sweep")
    return sorted(set(killed))


class HistorySweeper:
    """The sweep for a process that only looks after the history DB: the trigger daemon.

    Unlike a worker it creates no tables: a history DB that does not exist
    yet (no SQLite file), or one written by stock Luigi (no crawl_runs), has
    no run to sweep. A history DB that cannot be read is reported once, in
    one sentence, and again only when it can be read again; `sweep` never
    raises for it, so the daemon's loop goes on.
    """

    def __init__(self, url: str, dead_after: float | None = None, host: str | None = None) -> None:
        self.url = url
        self.dead_after = dead_after if dead_after is not None else validate(runs_config()).dead_after_seconds
        self.host = host
        self._engine: Engine | None = None
        self._has_table = False  # once there, our tables stay: checked until they appear
        self._failing: str | None = None  # the last problem reported, so it is said once

    @classmethod
    def from_config(cls, base_dir: Path) -> HistorySweeper:
        """The history DB of luigi.cfg (`[task_history] db_connection`) and `[runs] dead_after_seconds`.

        A relative SQLite path is read from `base_dir`, the folder the workers
        run in, whatever the sweeping process's working directory.
        """
        url = sa.engine.make_url(history_url())
        database = url.database
        if url.drivername.startswith("sqlite") and database and database != ":memory:" \
                and not Path(database).is_absolute():
            url = url.set(database=str(base_dir / database))
        return cls(url.render_as_string(hide_password=False))

    def sweep(self, now: datetime) -> list[int]:
        """Mark dead runs killed; their ids, or [] when there is nothing (or no readable DB) to sweep."""
        try:
            if not self._ready():
                killed: list[int] = []
            else:
                killed = sweep(self._engine, now, self.dead_after, host=self.host)  # type: ignore[arg-type]
        except (sa.exc.SQLAlchemyError, OSError) as exc:
            problem = f"{type(exc).__name__}: {str(exc).splitlines()[0][:300] if str(exc) else ''}"
            if problem != self._failing:
                log.warning("cannot sweep the run records in %s (%s); trying again every sweep",
                            _public(self.url), problem)
                self._failing = problem
            return []
        if self._failing is not None:
            log.info("the run records in %s can be swept again", _public(self.url))
            self._failing = None
        if killed:
            log.info("marked %d run(s) of dead workers killed: %s", len(killed), ", ".join(map(str, killed)))
        return killed

    def scheduled_run_alive(self, scheduled_run: int, since: datetime) -> bool:
        """Whether a run record of webmon's ScheduledRun `scheduled_run` is running and beat since `since`.

        The trigger daemon asks before it takes over the run of a host whose
        daemon stopped beating: the crawl may still run there. Raises when the
        history DB cannot be read (the caller decides).
        """
        if not self._ready():
            return False
        query = (sa.select(sa.func.count()).select_from(runs.join(run_deps, run_deps.c.run_id == runs.c.id))
                 .where(run_deps.c.scheduled_run == scheduled_run, runs.c.status == RUNNING,
                        runs.c.heartbeat_at >= since))
        with self._engine.connect() as conn:  # type: ignore[union-attr]
            return bool(conn.execute(query).scalar())

    def _ready(self) -> bool:
        if self._has_table:
            return True
        database = sa.engine.make_url(self.url).database
        if self.url.startswith("sqlite") and database not in (None, "", ":memory:") and not Path(database).exists():
            return False  # connecting would create an empty file where luigid will create its own
        if self._engine is None:
            self._engine = new_engine(self.url)
        self._has_table = sa.inspect(self._engine).has_table(runs.name)
        return self._has_table


def _public(url: str) -> str:
    """The URL without its password, for log lines."""
    return sa.engine.make_url(url).render_as_string(hide_password=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.runs.sweep", description=__doc__.split("\n\n")[0])
    parser.add_argument("--dead-after", type=float, default=None,
                        help="seconds without heartbeat before a run is killed (default: [runs] dead_after_seconds)")
    args = parser.parse_args(argv)
    dead_after = args.dead_after if args.dead_after is not None else runs_config().dead_after_seconds
    if dead_after <= 0:
        parser.error(f"--dead-after must be more than 0, got {dead_after}")
    killed = sweep(engine_for(history_url()), utcnow(), dead_after)
    print(f"marked {len(killed)} run(s) killed" + (f": {', '.join(map(str, killed))}" if killed else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
