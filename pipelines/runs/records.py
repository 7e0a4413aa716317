"""Reads and writes of run records: create, heartbeat, finish, and the engine.

The worker owns these rows; webmon only reads them. Every function takes an
engine and plain values so tests can call them without luigi.
"""

from __future__ import annotations

import json
import os
import threading
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines.runs import totals
from pipelines.runs.models import (
    DONE,
    FAILED,
    KILLED,
    RUNNING,
    SUPERSEDED_INDEXES,
    metadata,
    run_deps,
    run_logs,
    runs,
)

_engines: dict[tuple[str, int], Engine] = {}
_engines_lock = threading.Lock()


def engine_for(url: str) -> Engine:
    """One engine per URL per process, with our tables created.

    Keyed by pid too: a forked task process (luigi's multiprocessing mode)
    must not share its parent's pooled connections.
    """
    key = (url, os.getpid())
    with _engines_lock:
        engine = _engines.get(key)
        if engine is None:
            engine = new_engine(url)
            create_tables(engine)
            _engines[key] = engine
        return engine


def new_engine(url: str) -> Engine:
    """An engine of its own (the log writer process makes one after fork)."""
    if url.startswith("sqlite"):
        # luigid and other workers write the same file: wait for their locks
        # instead of failing after pysqlite's default 5 s.
        return sa.create_engine(url, future=True, connect_args={"timeout": 30})
    return sa.create_engine(url, future=True, pool_pre_ping=True)


def create_tables(engine: Engine) -> None:
    """Create crawl_runs, crawl_run_logs, crawl_run_deps and the totals tables if missing.

    Two workers starting at once may both see the tables missing; the loser's
    CREATE fails, which is fine when the tables are there afterwards.
    """
    create_all_racing(metadata, engine)
    # create_all adds missing tables only: an index added in a later release
    # is created here, once, on a history that already has the table.
    for table in metadata.sorted_tables:
        for index in table.indexes:
            try:
                index.create(engine, checkfirst=True)
            except sa.exc.DatabaseError:
                pass  # another worker is creating it at this moment
    drop_superseded_indexes(engine)


def drop_superseded_indexes(engine: Engine) -> None:
    """Drop the indexes a newer one replaces (models.SUPERSEDED_INDEXES), once it exists."""
    inspector = sa.inspect(engine)
    for name, superseded in SUPERSEDED_INDEXES.items():
        present = {ix["name"] for ix in inspector.get_indexes(name)}
        if not all(ix.name in present for ix in metadata.tables[name].indexes):
            continue  # a replacement is missing (another worker is creating it): keep the old ones for now
        stub = sa.Table(name, sa.MetaData(), sa.Column("id"))  # an Index on `table` itself would join its indexes
        for old in superseded:
            if old in present:
                try:
                    sa.Index(old, stub.c.id).drop(engine)
                except sa.exc.DatabaseError:
                    pass  # another worker dropped it at this moment


def create_all_racing(tables: sa.MetaData, engine: Engine, tries: int = 50, pause: float = 0.1) -> None:
    """`tables.create_all(engine)` when another process may be creating the same tables at this moment.

    The loser's CREATE fails ("already exists") while the winner may still be creating the rest, so
    the check that every table is there is retried for a while (create_all skips the ones that exist).
    """
    for attempt in range(tries):
        try:
            tables.create_all(engine)
            return
        except sa.exc.DatabaseError:
            inspector = sa.inspect(engine)
            if all(inspector.has_table(t.name) for t in tables.sorted_tables):
                return
            if attempt == tries - 1:
                raise
            time.sleep(pause)


def utcnow() -> datetime:
    return datetime.now(UTC)


def create_run(engine: Engine, *, task_id: str, family: str, crawl: str | None, params: str, host: str, pid: int,
               worker: str | None, now: datetime) -> tuple[int, int]:
    """Insert a running record; returns (run id, attempt number).

    The attempt is 1 + the earlier records of this task_id. luigid never runs
    one task_id twice at a time, so counting inside the insert's transaction
    is enough.
    """
    with engine.begin() as conn:
        earlier = conn.execute(sa.select(sa.func.count()).select_from(runs).where(runs.c.task_id == task_id)).scalar_one()
        result = conn.execute(runs.insert().values(
            task_id=task_id[:255], family=family[:100], crawl=crawl[:100] if crawl else None, params=params,
            host=host[:255], pid=pid, worker=worker[:255] if worker else None, attempt=earlier + 1,
            status=RUNNING, started_at=now, heartbeat_at=now, log_lines=0, log_truncated=False,
        ))
        return int(result.inserted_primary_key[0]), earlier + 1


def record_deps(engine: Engine, run_id: int, *, requires: list[dict[str, str]], scheduled_run: int | None,
                worker: str | None) -> None:
    """The direct requirements of the run's task (a JSON list of {"task_id", "family"})."""
    with engine.begin() as conn:
        conn.execute(run_deps.insert().values(run_id=run_id, scheduled_run=scheduled_run,
                                              worker=worker[:255] if worker else None,
                                              requires=json.dumps(requires, sort_keys=True)))


def beat(engine: Engine, run_id: int, now: datetime) -> None:
    """Refresh the heartbeat of a live run.

    A run the sweep marked killed while this process was only slow (a DB lock,
    a long pause) is alive after all: it goes back to running.
    """
    with engine.begin() as conn:
        conn.execute(runs.update().where(runs.c.id == run_id, runs.c.status.in_((RUNNING, KILLED)))
                     .values(heartbeat_at=now, status=RUNNING, finished_at=None, error_message=None))


def finish(engine: Engine, run_id: int, *, status: str, now: datetime, error_type: str | None = None,
           error_message: str | None = None, traceback: str | None = None, stats: str | None = None,
           log_lines: int = 0, log_truncated: bool = False) -> None:
    """Write the outcome of a run, and add it to the run totals in the same transaction.

    Overwrites a sweep's "killed": the process knows better (the totals keep both outcomes).
    """
    if status not in (DONE, FAILED, KILLED):
        raise ValueError(f"a finished run is done, failed or killed, not {status!r}")

    def change(conn: sa.engine.Connection) -> list[totals.Outcome]:
        conn.execute(runs.update().where(runs.c.id == run_id).values(
            status=status, finished_at=now, heartbeat_at=now, error_type=error_type and error_type[:255],
            error_message=error_message, traceback=traceback, stats=stats,
            log_lines=log_lines, log_truncated=log_truncated,
        ))
        row = conn.execute(sa.select(runs.c.family, runs.c.crawl, runs.c.started_at)
                           .where(runs.c.id == run_id)).first()
        return [totals.Outcome(row.family, row.crawl, status, row.started_at, now, stats, run_id)] if row else []

    totals.in_one_transaction(engine, change, f"run {run_id}")


def get_run(engine: Engine, run_id: int) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).mappings().first()
    return dict(row) if row else None


def log_lines_after(engine: Engine, run_id: int, after: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
    """Log lines of a run with seq > `after`, in order: the read a live log view polls.

    Served by the unique index (run_id, seq), so it costs the same at line 10
    or line 10 million.
    """
    query = (sa.select(run_logs.c.seq, run_logs.c.ts, run_logs.c.level, run_logs.c.logger, run_logs.c.message)
             .where(run_logs.c.run_id == run_id, run_logs.c.seq > after).order_by(run_logs.c.seq).limit(limit))
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(query).mappings()]
