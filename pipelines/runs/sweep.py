"""The sweep: runs whose process died (SIGKILL, OOM, power) are marked killed.

A live run refreshes `heartbeat_at` every `[runs] heartbeat_seconds`. Two
rules, both idempotent (they touch only rows still `running`):

- a running record whose heartbeat is older than `[runs] dead_after_seconds`
  is killed, wherever it ran;
- a running record of THIS host whose pid no longer exists is killed at once
  (no need to wait for the heartbeat to go stale).

`finished_at` becomes the last heartbeat: the last moment the run was known
alive. Each killed run is added to the run totals (totals.py) in the same
transaction. Every task run sweeps before it starts; run it by hand or from cron:

    python -m pipelines.runs.sweep            # uses luigi.cfg ([task_history], [runs])

If a swept process was only stalled, its next heartbeat sets the record back
to running (records.beat), and its end overwrites the status.
"""

from __future__ import annotations

import argparse
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipelines.runs.models import KILLED, RUNNING, runs
from pipelines.runs.records import engine_for, utcnow
from pipelines.runs.settings import history_url
from pipelines.runs.settings import runs as runs_config
from pipelines.runs.totals import Outcome, in_one_transaction


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

        columns = (runs.c.id, runs.c.family, runs.c.crawl, runs.c.started_at, runs.c.heartbeat_at, runs.c.pid)
        stale = sa.select(*columns).where(runs.c.status == RUNNING, runs.c.heartbeat_at < cutoff)
        for row in conn.execute(stale).all():
            kill(row, f"no heartbeat for more than {dead_after:g} s: the worker died")
        for row in conn.execute(sa.select(*columns).where(runs.c.status == RUNNING, runs.c.host == host)).all():
            if row.pid == os.getpid() or alive(row.pid):
                continue
            kill(row, f"process {row.pid} on {host} is gone: the worker died")
        return outcomes

    in_one_transaction(engine, change, "the sweep")
    return sorted(set(killed))


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
