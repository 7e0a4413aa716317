"""Pruning old history while luigid and the workers keep writing to it.

Deletes, in small batches of short transactions with a pause between them:
- Luigi's `tasks` rows whose newest `task_events` row is older than the
  cutoff, with their events and parameters;
- our `crawl_runs` rows finished before the cutoff, with their
  `crawl_run_logs` lines and `crawl_run_deps` row (the pre-aggregated totals
  are kept: they are counters);
- expired Django sessions in the webmon DB.

On SQLite every write transaction starts with BEGIN IMMEDIATE (it takes the
write lock up front, so it never has to upgrade a read lock, the case where
SQLite fails at once instead of waiting) and waits up to 30 s for it; each
holds the lock for a few milliseconds, well inside the 5 s that luigid's and
the workers' connections wait, so they never see "database is locked".
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from pipelines.runs.models import run_deps
from pipelines.runs.models import runs as runs_table

log = logging.getLogger("pipelines.maintenance.prune")

_meta = sa.MetaData()
tasks = sa.Table("tasks", _meta, sa.Column("id", sa.Integer, primary_key=True))
task_events = sa.Table("task_events", _meta, sa.Column("id", sa.Integer, primary_key=True),
                       sa.Column("task_id", sa.Integer), sa.Column("ts", sa.DateTime))
task_parameters = sa.Table("task_parameters", _meta, sa.Column("task_id", sa.Integer, primary_key=True))
run_logs = sa.Table("crawl_run_logs", _meta, sa.Column("id", sa.BigInteger, primary_key=True),
                    sa.Column("run_id", sa.BigInteger))
sessions = sa.Table("django_session", _meta, sa.Column("session_key", sa.String(40), primary_key=True),
                    sa.Column("expire_date", sa.DateTime))


@dataclass
class Pruned:
    tasks: int = 0
    task_events: int = 0
    task_parameters: int = 0
    runs: int = 0
    run_logs: int = 0
    run_deps: int = 0
    sessions: int = 0
    batches: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, int]:
        return {k: v for k, v in self.__dict__.items() if k != "extra"}


def engine(url: str) -> sa.engine.Engine:
    """An engine whose transactions are short-lock friendly (BEGIN IMMEDIATE and a 30 s busy timeout on SQLite)."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, future=True, pool_pre_ping=True)
    eng = sa.create_engine(url, future=True, connect_args={"timeout": 30, "isolation_level": None})

    @event.listens_for(eng, "begin")
    def _begin_immediate(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return eng


def prune_history(eng: sa.engine.Engine, cutoff: dt.datetime, *, batch: int = 1000, pause: float = 0.05,
                  progress: Callable[[Pruned], None] | None = None) -> Pruned:
    """Delete Luigi history and run records older than `cutoff` (aware UTC) in batches of about `batch` rows."""
    done = Pruned()
    names = set(sa.inspect(eng).get_table_names())
    if {"tasks", "task_events", "task_parameters"} <= names:
        _prune_luigi(eng, cutoff.astimezone(dt.UTC).replace(tzinfo=None), batch, pause, done, progress)
    if {"crawl_runs", "crawl_run_logs"} <= names:
        _prune_runs(eng, cutoff, batch, pause, done, progress, with_deps="crawl_run_deps" in names)
    return done


def _prune_luigi(eng: sa.engine.Engine, cutoff: dt.datetime, batch: int, pause: float, done: Pruned,
                 progress: Callable[[Pruned], None] | None) -> None:
    # luigid writes task_events.ts as naive local time; it runs with TZ=UTC, so the cutoff is naive UTC.
    last = 0
    per_batch = max(1, batch // 5)  # a task has a few events and parameters
    while True:
        with eng.connect() as conn:
            ids = conn.execute(sa.select(tasks.c.id).where(tasks.c.id > last).order_by(tasks.c.id)
                               .limit(per_batch)).scalars().all()
            if not ids:
                return
            last = ids[-1]
            old = _old_tasks(conn, ids, cutoff)
            conn.rollback()
        if not old:
            continue
        with eng.begin() as conn:
            old = _old_tasks(conn, old, cutoff)  # again, inside the write lock: a task may have run since
            done.task_events += conn.execute(task_events.delete().where(task_events.c.task_id.in_(old))).rowcount
            done.task_parameters += conn.execute(
                task_parameters.delete().where(task_parameters.c.task_id.in_(old))).rowcount
            done.tasks += conn.execute(tasks.delete().where(tasks.c.id.in_(old))).rowcount
        _after_batch(done, pause, progress)


def _old_tasks(conn: sa.engine.Connection, ids: Sequence[int], cutoff: dt.datetime) -> list[int]:
    newest = sa.func.max(task_events.c.ts)
    rows = conn.execute(sa.select(task_events.c.task_id, newest).where(task_events.c.task_id.in_(ids))
                        .group_by(task_events.c.task_id)).all()
    return [task_id for task_id, ts in rows if ts is not None and _naive(ts) < cutoff]


def _naive(value: Any) -> dt.datetime:
    if isinstance(value, str):  # SQLite hands back text for a func.max()
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=None) if value.tzinfo else value


def _prune_runs(eng: sa.engine.Engine, cutoff: dt.datetime, batch: int, pause: float, done: Pruned,
                progress: Callable[[Pruned], None] | None, *, with_deps: bool = False) -> None:
    per_batch = max(1, batch // 20)  # a run has tens of log lines, sometimes thousands
    last = 0
    while True:
        with eng.connect() as conn:
            # started_at < cutoff is implied by finished_at < cutoff and uses the started_at index.
            query = (sa.select(runs_table.c.id)
                     .where(runs_table.c.id > last, runs_table.c.started_at < cutoff, runs_table.c.finished_at < cutoff)
                     .order_by(runs_table.c.id).limit(per_batch))
            ids = conn.execute(query).scalars().all()
            conn.rollback()
        if not ids:
            return
        last = ids[-1]
        while True:  # the log lines first, a batch at a time: a run never shows without its log half-deleted
            with eng.connect() as conn:
                line_ids = conn.execute(sa.select(run_logs.c.id).where(run_logs.c.run_id.in_(ids))
                                        .limit(batch)).scalars().all()
                conn.rollback()
            if not line_ids:
                break
            with eng.begin() as conn:
                done.run_logs += conn.execute(run_logs.delete().where(run_logs.c.id.in_(line_ids))).rowcount
            _after_batch(done, pause, progress)
        with eng.begin() as conn:
            if with_deps:  # a history from before crawl_run_deps has no such table
                done.run_deps += conn.execute(run_deps.delete().where(run_deps.c.run_id.in_(ids))).rowcount
            done.runs += conn.execute(runs_table.delete().where(runs_table.c.id.in_(ids))).rowcount
        _after_batch(done, pause, progress)


def _after_batch(done: Pruned, pause: float, progress: Callable[[Pruned], None] | None) -> None:
    done.batches += 1
    if progress is not None:
        progress(done)
    time.sleep(pause)  # let luigid and the workers have the database


def missing_sqlite_file(url: str) -> str | None:
    """The file of a SQLite URL when it does not exist (opening it would create it, or fail without its folder)."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if Path(parsed.database).exists() else parsed.database


def clear_sessions(eng: sa.engine.Engine, now: dt.datetime, *, batch: int = 1000) -> int:
    """Delete expired Django sessions (what `manage.py clearsessions` does), without importing Django."""
    if "django_session" not in sa.inspect(eng).get_table_names():
        return 0
    # Django keeps UTC: naive on SQLite and MySQL, timestamptz on PostgreSQL.
    moment = now if eng.dialect.name == "postgresql" else now.astimezone(dt.UTC).replace(tzinfo=None)
    deleted = 0
    while True:
        with eng.connect() as conn:
            keys = conn.execute(sa.select(sessions.c.session_key).where(sessions.c.expire_date < moment)
                                .limit(batch)).scalars().all()
            conn.rollback()
        if not keys:
            return deleted
        with eng.begin() as conn:
            deleted += conn.execute(sessions.delete().where(sessions.c.session_key.in_(keys))).rowcount
