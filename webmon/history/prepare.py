"""Preparing a history DB for webmon: our run tables and the indexes webmon's pages need on Luigi's tables.

webmon reads the history DB through a read-only alias, so it never creates
anything there; `manage.py prepare_history` (run by `./scheduler.sh up`, and
by hand on a history an existing luigid wrote) does it once, through an
SQLAlchemy engine of its own on the history URL (luigi.cfg `[task_history]
db_connection`). Idempotent and safe to run while luigid writes or while
another copy runs: every object is created only if missing, and a CREATE
that loses a race is fine when the object exists afterwards.

The indexes on Luigi's tables (luigi 3.8.1 creates only tasks.task_id,
tasks.name, task_events.task_id and task_events.ts):

- tasks (name, id): the tasks list filtered by family, newest first (keyset
  on id), and the families page (skip-scan of names, newest task, capped count).
- tasks (host, id): the tasks list filtered by host.
- task_events (task_id, ts, id, event_name): a task's latest event (its
  status now) from the index alone, and a task's events newest first.

On PostgreSQL they are built CONCURRENTLY, so a live luigid keeps writing
while a big table is indexed. Two CONCURRENTLY builds on one table deadlock
each other (each waits for the other's snapshot), and a build in progress
looks like an interrupted one (an invalid index), so copies of this command
take turns on PostgreSQL through an advisory lock (`_turn`). It is taken with
pg_try_advisory_lock in short transactions: a session waiting inside
pg_advisory_lock would hold a snapshot the other copy's build must wait for.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from luigi import db_task_history as luigi_history
from sqlalchemy.engine import Engine

from pipelines.runs import models as run_models
from pipelines.runs import records

# Luigi's tables, the columns these indexes name, in a MetaData of our own: an
# index bound to Luigi's own Table objects would join its create_all.
_ours = sa.MetaData()
_tasks = sa.Table(
    "tasks", _ours, sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(128)),
    sa.Column("host", sa.String(128)),
)
_events = sa.Table(
    "task_events", _ours, sa.Column("id", sa.Integer, primary_key=True), sa.Column("task_id", sa.Integer),
    sa.Column("event_name", sa.String(20)), sa.Column("ts", sa.TIMESTAMP),
)
LUIGI_INDEXES = (
    sa.Index("ix_webmon_tasks_name_id", _tasks.c.name, _tasks.c.id),
    sa.Index("ix_webmon_tasks_host_id", _tasks.c.host, _tasks.c.id),
    sa.Index("ix_webmon_task_events_latest", _events.c.task_id, _events.c.ts, _events.c.id, _events.c.event_name),
)


class HistoryUnreachable(Exception):
    """Raised by prepare() when the history DB cannot be reached; caught by the command, which prints it."""


@dataclass
class Prepared:
    created_tables: list[str]
    created_indexes: list[str]
    existing: list[str]


def prepare(url: str, say: Callable[[str], None] = lambda _: None) -> Prepared:
    """Create what webmon needs in the history DB at `url`; returns what was created."""
    try:
        engine = records.new_engine(url)
    except (sa.exc.ArgumentError, ImportError) as exc:
        raise HistoryUnreachable(f"the history DB URL cannot be used: {_first_line(exc)}") from exc
    try:
        try:
            with engine.connect():
                pass
        except sa.exc.DBAPIError as exc:
            raise HistoryUnreachable(
                f"the history DB {engine.url.render_as_string(hide_password=True)} cannot be reached:"
                f" {_first_line(exc.orig or exc)}"
            ) from exc
        with _turn(engine):
            return _prepare(engine, say)
    finally:
        engine.dispose()


# pg_try_advisory_lock's key: any bigint; this one is "webmon_p" in ASCII.
_LOCK_KEY = 0x7765626D6F6E5F70


@contextlib.contextmanager
def _turn(engine: Engine, wait: float = 600.0) -> Iterator[None]:
    """On PostgreSQL, hold the session advisory lock of this command while it prepares; elsewhere nothing."""
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        deadline = time.monotonic() + wait
        while not conn.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": _LOCK_KEY}).scalar():
            if time.monotonic() > deadline:
                raise sa.exc.DatabaseError(
                    "prepare_history", None, Exception(f"another prepare_history held its lock for {wait:.0f} s"))
            time.sleep(0.2)
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": _LOCK_KEY})


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _prepare(engine: Engine, say: Callable[[str], None]) -> Prepared:
    before = set(sa.inspect(engine).get_table_names())
    # Luigi's tables exactly as luigid creates them (its own MetaData): a history
    # prepared before luigid's first start is then readable at once.
    records.create_all_racing(luigi_history.Base.metadata, engine)
    records.create_tables(engine)  # crawl_runs, crawl_run_logs, totals (and their indexes)
    after = set(sa.inspect(engine).get_table_names())
    created_tables = sorted(after - before)
    for name in created_tables:
        say(f"created table {name}")
    created, existing = [], []
    for index in LUIGI_INDEXES:
        if _has_index(engine, index):
            existing.append(index.name)
            continue
        started = _create_index(engine, index)
        if not _has_index(engine, index):
            raise sa.exc.DatabaseError(f"CREATE INDEX {index.name}", None, Exception("the index is still missing"))
        if started:
            created.append(index.name)
            say(f"created index {index.name} on {index.table.name}")
        else:
            existing.append(index.name)
    if created and engine.dialect.name == "sqlite":
        # SQLite plans without statistics unless someone gathers them; webmon cannot (read-only).
        with engine.begin() as conn:
            for table in (_tasks, _events):
                conn.execute(sa.text(f"ANALYZE {table.name}"))
        say("gathered SQLite's statistics (ANALYZE) on tasks and task_events")
    known = set(run_models.metadata.tables) | set(luigi_history.Base.metadata.tables)
    existing.extend(sorted(known & before))
    return Prepared(created_tables, created, existing)


def _has_index(engine: Engine, index: sa.Index) -> bool:
    names = {ix["name"] for ix in sa.inspect(engine).get_indexes(index.table.name)}
    if index.name not in names:
        return False
    if engine.dialect.name == "postgresql":
        # A CONCURRENTLY build that was interrupted leaves an invalid index behind: drop it and build again.
        with engine.connect() as conn:
            valid = conn.execute(
                sa.text("SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                        " WHERE c.relname = :name"), {"name": index.name},
            ).scalar()
        if valid is False:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text(f'DROP INDEX CONCURRENTLY IF EXISTS "{index.name}"'))
            return False
    return True


def _create_index(engine: Engine, index: sa.Index) -> bool:
    """CREATE INDEX; False when another process created it first."""
    try:
        if engine.dialect.name == "postgresql":
            ddl = sa.schema.CreateIndex(index).compile(dialect=engine.dialect)
            sql = str(ddl).replace("CREATE INDEX", "CREATE INDEX CONCURRENTLY IF NOT EXISTS", 1)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(sa.text(sql))
        else:
            with engine.begin() as conn:
                index.create(conn)
    except sa.exc.OperationalError as exc:
        if _has_index(engine, index) or "already exists" in str(exc).lower():
            return False
        raise
    except sa.exc.DatabaseError:
        if _has_index(engine, index):
            return False
        raise
    return True
