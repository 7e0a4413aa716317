"""A history DB of N task records for the webmon benchmark, on SQLite or PostgreSQL.

The schema is the writers' own: Luigi's `tasks`, `task_events` and
`task_parameters` from `luigi.db_task_history.Base.metadata` (TaskRecord,
TaskEvent, TaskParameter), and our `crawl_runs` / `crawl_run_logs` from
`pipelines.runs.models.metadata`, both created with `create_all`. Rows go in
through those Table objects: SQLite gets each table's compiled INSERT with
executemany on big batches, PostgreSQL gets COPY into the same columns. The
tables' own indexes are dropped for the load and created again afterwards
from the same Index objects (the usual bulk-load order; the end state is what
`create_all` makes). Then ANALYZE (SQLite) or VACUUM ANALYZE (PostgreSQL).

What is written, for N task records (N = --rows):

* 50 task families: the tick's four (FetchPages -> ParsePages -> StoreItems,
  and the RunCrawl wrapper) hold 80 % of the records; 46 other families share
  the rest evenly. Every record has 3 parameters (crawl, at and a third:
  `env` for the tick's tasks, `part` for the others) and a task_id made by
  `luigi.task.task_id_str`, so a tick's tasks share their task_id tail as in
  production. 20 crawls, ticks evenly spaced over 90 days ending at the seed
  time (at 1M rows: a tick of each crawl every ~13 minutes).
* 3 events per record: PENDING, RUNNING, then DONE or FAILED.
* One run record (crawl_runs) per task record, with the same id and task_id:
  5 % of ticks fail in one stage (error type, message, a ~1 KB traceback),
  3 % of other tasks fail, 0.2 % are killed; StoreItems runs carry stats.
* With --history luigi (luigi_only) only Luigi's three tables are written, as
  a stock luigid leaves them: no crawl_runs, no tables of ours at all.
* The indexes `manage.py prepare_history` adds on Luigi's tables are created
  after the load, as running it on such a history would.
* Log lines (crawl_run_logs): LOG_LINES (200) for one run in every N/1000
  (1,000 runs, 200,000 lines at 1M), plus the newest failed tick run; about
  one line in 50 is longer than the viewer's 2,000-character head.
"""

from __future__ import annotations

import io
import json
import random
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from luigi import db_task_history as luigi_history
from luigi.task import task_id_str

from pipelines.runs import models as run_models
from webmon.history.prepare import LUIGI_INDEXES

CHAIN = ("FetchPages", "ParsePages", "StoreItems")
WRAPPER = "RunCrawl"
CRAWLS = (
    "books", "shop", "news", "jobs", "cars", "homes", "travel", "recipes", "music", "games",
    "sports", "weather", "finance", "health", "tech", "fashion", "garden", "pets", "movies", "art",
)
_VERBS = ("Export", "Check", "Build", "Prune", "Index", "Report")
_NOUNS = ("Feed", "Links", "Sitemap", "Images", "Prices", "Reviews", "Archive", "Stats")
OTHER_FAMILIES = tuple(f"{v}{n}" for v in _VERBS for n in _NOUNS)[:46]
FAMILIES = (*CHAIN, WRAPPER, *OTHER_FAMILIES)
assert len(FAMILIES) == 50 and len(set(FAMILIES)) == 50

DAYS = 90
TICK_SHARE = 0.8
LOG_RUNS = 1000
LOG_LINES = 200
HOSTS = ("worker-1", "worker-2", "worker-3", "worker-4")
STAGE_SECONDS = {"FetchPages": (30, 150), "ParsePages": (10, 60), "StoreItems": (5, 30)}
ERRORS = (
    ("requests.exceptions.ConnectionError", "HTTPSConnectionPool(host='{crawl}.example', port=443): Max retries exceeded"),
    ("decimal.InvalidOperation", "price '12,99 €' is not a number\non https://{crawl}.example/p/17"),
    ("sqlite3.OperationalError", "database is locked"),
    ("ValueError", "spec {crawl}.toml: start_urls is empty"),
)
TRACEBACK = "Traceback (most recent call last):\n" + "".join(
    f'  File "/srv/crawlops/pipelines/{mod}.py", line {line}, in {fn}\n    {code}\n'
    for mod, line, fn, code in (
        ("tasks", 212, "run", "result = self.stage.run(self.spec, self.at)"),
        ("fetch/engine", 388, "crawl", "for response in self.fetcher.fetch_all(requests):"),
        ("fetch/http", 141, "fetch_all", "yield from pool.map(self.fetch_one, batch)"),
        ("fetch/http", 97, "fetch_one", "response = session.get(url, timeout=self.timeout)"),
        ("parse/extract", 88, "parse_page", "price = Decimal(raw_price)"),
    )
)


def sqlite_ts(value: datetime) -> str:
    """How SQLAlchemy stores a DateTime/TIMESTAMP in SQLite (and what COPY reads on PostgreSQL)."""
    return value.isoformat(" ", "microseconds")


@dataclass
class Run:
    """One task record and its run record (same id)."""

    family: str
    crawl: str
    params: dict[str, str]
    started: datetime
    seconds: float
    status: str = "done"
    host: str = "worker-1"
    error: tuple[str, str] | None = None
    stats: dict[str, Any] | None = None
    id: int = 0
    task_id: str = ""
    logs: int = 0


@dataclass
class Plan:
    rows: int
    end: datetime
    ticks_per_crawl: int = field(init=False)
    others: int = field(init=False)
    start: datetime = field(init=False)

    def __post_init__(self) -> None:
        per_tick = len(CHAIN) + 1
        self.ticks_per_crawl = max(1, round(self.rows * TICK_SHARE / per_tick / len(CRAWLS)))
        self.others = self.rows - self.ticks_per_crawl * per_tick * len(CRAWLS)
        if self.others < 0:
            raise ValueError(f"--rows {self.rows} is too small (at least {per_tick * len(CRAWLS)})")
        self.start = self.end - timedelta(days=DAYS)

    @property
    def span(self) -> float:
        return (self.end - self.start).total_seconds()

    @property
    def log_every(self) -> int:
        return max(1, self.rows // LOG_RUNS)


def _at(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H%M")


def plan_runs(plan: Plan, rng: random.Random) -> Iterator[list[Run]]:
    """Every run, a day at a time, sorted by start and numbered 1..N (ids follow start times)."""
    tick_every = plan.span / plan.ticks_per_crawl
    other_every = plan.span / plan.others if plan.others else 0.0
    next_id, tick_j, other_i = 1, 0, 0
    day = 0
    while tick_j < plan.ticks_per_crawl or other_i < plan.others:
        day_end = min(plan.span, (day + 1) * 86400.0) if day + 1 < DAYS else plan.span + 1
        chunk: list[Run] = []
        while tick_j < plan.ticks_per_crawl and tick_j * tick_every < day_end:
            for c, crawl in enumerate(CRAWLS):
                at = plan.start + timedelta(seconds=tick_j * tick_every + c * tick_every / len(CRAWLS))
                at = at.replace(second=0, microsecond=0)
                params = {"crawl": crawl, "at": _at(at), "env": "prod"}
                chunk.extend(_tick(crawl, at, params, rng))
            tick_j += 1
        while other_i < plan.others and other_i * other_every < day_end:
            when = plan.start + timedelta(seconds=other_i * other_every + rng.uniform(0, 30))
            family = OTHER_FAMILIES[other_i % len(OTHER_FAMILIES)]
            crawl = CRAWLS[(other_i // len(OTHER_FAMILIES)) % len(CRAWLS)]
            params = {"crawl": crawl, "at": _at(when), "part": str(other_i % 8)}
            roll = rng.random()
            status = "killed" if roll < 0.002 else "failed" if roll < 0.032 else "done"
            run = Run(family, crawl, params, when, rng.uniform(1, 300), status, rng.choice(HOSTS))
            if status == "failed":
                run.error = ERRORS[other_i % len(ERRORS)]
            chunk.append(run)
            other_i += 1
        chunk.sort(key=lambda r: r.started)
        for run in chunk:
            run.id = next_id
            run.task_id = task_id_str(run.family, run.params)
            run.logs = LOG_LINES if next_id % plan.log_every == 0 else 0
            next_id += 1
        day += 1
        if chunk:
            yield chunk


def _tick(crawl: str, at: datetime, params: dict[str, str], rng: random.Random) -> list[Run]:
    host = rng.choice(HOSTS)
    fails = rng.randrange(len(CHAIN)) if rng.random() < 0.05 else None
    runs, start = [], at + timedelta(seconds=rng.uniform(0.1, 2))
    for k, family in enumerate(CHAIN):
        lo, hi = STAGE_SECONDS[family]
        seconds = rng.uniform(lo, hi)
        run = Run(family, crawl, params, start, seconds, host=host)
        if k == fails:
            run.status, run.error = "failed", ERRORS[rng.randrange(len(ERRORS))]
        if family == "StoreItems":
            items = rng.randrange(500, 5000)
            new = rng.randrange(0, items // 10)
            changed = rng.randrange(0, items // 10)
            run.stats = {"items": items, "new": new, "changed": changed, "unchanged": items - new - changed,
                         "duplicates": 0}
        runs.append(run)
        start = start + timedelta(seconds=seconds + 0.25)
    runs.append(Run(WRAPPER, crawl, params, start, 0.5, host=host))
    return runs


# -- rows of each table -------------------------------------------------------------------


def task_rows(runs: Sequence[Run]) -> Iterator[tuple[Any, ...]]:
    for r in runs:
        yield (r.id, r.task_id, r.family, r.host)


def param_rows(runs: Sequence[Run]) -> Iterator[tuple[Any, ...]]:
    for r in runs:
        for name, value in r.params.items():
            yield (r.id, name, value)


def event_rows(runs: Sequence[Run]) -> Iterator[tuple[Any, ...]]:
    for r in runs:
        base = r.id * 3 - 2
        end = r.started + timedelta(seconds=r.seconds)
        yield (base, r.id, "PENDING", sqlite_ts(r.started - timedelta(seconds=1.5)))
        yield (base + 1, r.id, "RUNNING", sqlite_ts(r.started))
        yield (base + 2, r.id, "DONE" if r.status == "done" else "FAILED", sqlite_ts(end))


RUN_COLUMNS = ("id", "task_id", "family", "crawl", "params", "host", "pid", "worker", "attempt", "status",
               "started_at", "finished_at", "heartbeat_at", "error_type", "error_message", "traceback", "stats",
               "log_lines", "log_truncated")


def run_rows(runs: Sequence[Run]) -> Iterator[tuple[Any, ...]]:
    for r in runs:
        end = sqlite_ts(r.started + timedelta(seconds=r.seconds))
        err_type = err_msg = tb = None
        if r.error:
            err_type, err_msg = r.error[0], r.error[1].format(crawl=r.crawl)
            tb = f"{TRACEBACK}{err_type}: {err_msg}"
        yield (
            r.id, r.task_id, r.family, r.crawl, json.dumps(r.params), r.host, 1000 + r.id % 30000,
            f"Worker(salt={r.id % 99991}, workers=1, host={r.host})", 1, r.status, sqlite_ts(r.started), end, end,
            err_type, err_msg, tb, json.dumps(r.stats) if r.stats else None, r.logs, False,
        )


LOG_COLUMNS = ("run_id", "seq", "ts", "level", "logger", "message")
LONG = "x" * 2600


def log_rows(runs: Sequence[Run]) -> Iterator[tuple[Any, ...]]:
    for r in runs:
        if not r.logs:
            continue
        step = r.seconds / r.logs
        for seq in range(1, r.logs + 1):
            ts = sqlite_ts(r.started + timedelta(seconds=step * seq))
            if seq == r.logs and r.status != "done":
                level, message = "ERROR", f"{r.error[0] if r.error else 'Killed'}: the stage stopped"
            elif seq % 50 == 25:
                level, message = "INFO", f"response body of page {seq}: {LONG}"
            elif seq % 17 == 0:
                level, message = "WARNING", f"page {seq}: retrying after HTTP 503 (attempt 2 of 3)"
            elif seq % 11 == 0:
                level, message = "STDOUT", f"progress {seq}/{r.logs}"
            else:
                level, message = "INFO", f"fetched https://{r.crawl}.example/catalogue/page-{seq}.html (200, 14.2 kB)"
            yield (r.id, seq, ts, level, "pipelines.tasks", message)


TABLES: tuple[tuple[sa.Table, tuple[str, ...], Callable[[Sequence[Run]], Iterable[tuple[Any, ...]]]], ...] = (
    (luigi_history.TaskRecord.__table__, ("id", "task_id", "name", "host"), task_rows),
    (luigi_history.TaskParameter.__table__, ("task_id", "name", "value"), param_rows),
    (luigi_history.TaskEvent.__table__, ("id", "task_id", "event_name", "ts"), event_rows),
    (run_models.runs, RUN_COLUMNS, run_rows),
    (run_models.run_logs, LOG_COLUMNS, log_rows),
)
METADATAS = (luigi_history.Base.metadata, run_models.metadata)
LUIGI_TABLES = TABLES[:3]


def tables_of(luigi_only: bool) -> tuple[Any, ...]:
    """What a history holds: Luigi's three tables alone (as stock luigid writes them), or ours too."""
    return LUIGI_TABLES if luigi_only else TABLES


def _give_the_newest_failure_logs(chunk: list[Run]) -> None:
    """The run detail page is measured on the newest failed tick run: it gets a log too."""
    failed = [r for r in chunk if r.status == "failed" and r.family in CHAIN]
    if failed and not failed[-1].logs:
        failed[-1].logs = LOG_LINES


def chunks(plan: Plan, seed: int = 42) -> Iterator[list[Run]]:
    rng = random.Random(seed)
    previous: list[Run] | None = None
    for chunk in plan_runs(plan, rng):
        if previous is not None:
            yield previous
        previous = chunk
    if previous is not None:
        _give_the_newest_failure_logs(previous)
        yield previous


# -- loading ---------------------------------------------------------------------------


def _create_schema(engine: sa.engine.Engine, luigi_only: bool) -> list[sa.Index]:
    """The tables as their writers create them, minus their indexes (returned, for after the load).

    The indexes returned include those `manage.py prepare_history` adds to
    Luigi's tables (webmon/history/prepare.py), created after the load as it would.
    """
    metadatas = METADATAS[:1] if luigi_only else METADATAS
    for metadata in metadatas:
        metadata.create_all(engine)
    indexes = [ix for metadata in metadatas for table in metadata.sorted_tables for ix in table.indexes]
    with engine.begin() as conn:
        for ix in indexes:
            ix.drop(conn)
    return [*indexes, *LUIGI_INDEXES]


def _recreate_indexes(engine: sa.engine.Engine, indexes: Sequence[sa.Index], say: Callable[[str], None]) -> None:
    with engine.begin() as conn:
        for ix in indexes:
            started = time.monotonic()
            ix.create(conn)
            say(f"  index {ix.name}: {time.monotonic() - started:.1f} s")


def load_sqlite(path: str, plan: Plan, say: Callable[[str], None], luigi_only: bool = False) -> dict[str, int]:
    engine = sa.create_engine(f"sqlite:///{path}", future=True)
    indexes = _create_schema(engine, luigi_only)
    tables = tables_of(luigi_only)
    dialect = engine.dialect
    engine.dispose()
    inserts = {
        table.name: str(table.insert().compile(dialect=dialect, column_keys=list(columns)))
        for table, columns, _ in tables
    }
    counts = {table.name: 0 for table, _, _ in tables}
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode = OFF")
    db.execute("PRAGMA synchronous = OFF")
    db.execute("PRAGMA cache_size = -262144")  # 256 MiB
    started = time.monotonic()
    db.execute("BEGIN")
    for n, chunk in enumerate(chunks(plan)):
        for table, _, rows in tables:
            batch = list(rows(chunk))
            db.executemany(inserts[table.name], batch)
            counts[table.name] += len(batch)
        if n % 10 == 9:
            db.execute("COMMIT")
            db.execute("BEGIN")
            say(f"  day {n + 1}/{DAYS}: {counts['tasks']:,} tasks, {time.monotonic() - started:.0f} s")
    db.execute("COMMIT")
    db.close()
    engine = sa.create_engine(f"sqlite:///{path}", future=True)
    _recreate_indexes(engine, indexes, say)
    engine.dispose()
    db = sqlite3.connect(path, isolation_level=None)
    started = time.monotonic()
    db.execute("ANALYZE")
    db.execute("PRAGMA journal_mode = DELETE")  # what a fresh luigid/SQLAlchemy DB has
    db.close()
    say(f"  ANALYZE: {time.monotonic() - started:.1f} s")
    return counts


def _copy_text(value: Any) -> str:
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    text = str(value)
    if any(ch in text for ch in "\\\t\n\r"):
        text = text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return text


def load_postgres(url: str, plan: Plan, say: Callable[[str], None], luigi_only: bool = False) -> dict[str, int]:
    engine = sa.create_engine(url, future=True)
    indexes = _create_schema(engine, luigi_only)
    tables = tables_of(luigi_only)
    counts = {table.name: 0 for table, _, _ in tables}
    raw = engine.raw_connection()
    started = time.monotonic()
    try:
        cur = raw.cursor()
        for n, chunk in enumerate(chunks(plan)):
            for table, columns, rows in tables:
                buf = io.StringIO()
                k = 0
                for row in rows(chunk):
                    buf.write("\t".join(map(_copy_text, row)))
                    buf.write("\n")
                    k += 1
                if k:
                    buf.seek(0)
                    cur.copy_expert(f"COPY {table.name} ({', '.join(columns)}) FROM STDIN", buf)
                counts[table.name] += k
            if n % 10 == 9:
                raw.commit()
                say(f"  day {n + 1}/{DAYS}: {counts['tasks']:,} tasks, {time.monotonic() - started:.0f} s")
        # Ids were given explicitly: move each serial on past them.
        for table in ("tasks", "task_events") if luigi_only else ("tasks", "task_events", "crawl_runs", "crawl_run_logs"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE(MAX(id), 1)) FROM {table}")
        raw.commit()
    finally:
        raw.close()
    _recreate_indexes(engine, indexes, say)
    engine.dispose()
    raw = sa.create_engine(url, future=True, isolation_level="AUTOCOMMIT")
    with raw.connect() as conn:
        started = time.monotonic()
        conn.execute(sa.text("VACUUM ANALYZE"))
        say(f"  VACUUM ANALYZE: {time.monotonic() - started:.1f} s")
    raw.dispose()
    return counts


def seed_now() -> datetime:
    """The end of the seeded 90 days: a little before now, whole minute."""
    return (datetime.now(UTC) - timedelta(minutes=2)).replace(second=0, microsecond=0).replace(tzinfo=None)
