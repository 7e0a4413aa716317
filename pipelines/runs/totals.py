"""Pre-aggregated totals of run outcomes: what webmon's /metrics reads instead of crawl_runs.

Two small tables in the history DB (models.py), kept by the writers of run
outcomes in the same transaction as the outcome itself:

- `crawl_run_totals`, a row per (task family, final status): outcomes, the
  sum and cumulative histogram buckets of their durations, and the newest
  outcome's end and duration;
- `crawl_quality_latest`, a row per crawl: the newest tick's data-quality
  report from the stats of its StoreItems run (coverage per field, monitors);
- `crawl_crawl_totals`, a row per (crawl, name): pages fetched, bytes,
  retries, responses by status class, fetch failures by reason, the fetches
  that reached each limit and the URLs that limit kept out, items parsed,
  dropped and stored, from the `run_stats` of FetchPages, ParsePages and
  StoreItems and of Scrapy spiders (ScrapySpider: also their errors and
  finish reasons); `last_success_at`, the end of the newest RunCrawl (or
  Scrapy spider run) done; and the crawl's task runs by family and final
  status with the newest failure's end (crawl "" for runs without a crawl).

`records.finish` and the sweep call `in_one_transaction`. Counts only grow, as
Prometheus counters must: a run the sweep killed that later turns out alive
was counted killed at the sweep and is counted again with its real outcome.

A history DB with runs from before these tables needs the totals computed
once, from every finished crawl_runs row (with the workers stopped: on SQLite
and PostgreSQL the rebuild holds a lock that makes finishing runs wait):

    python -m pipelines.runs.totals --rebuild      # uses luigi.cfg [task_history]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from pipelines.limits import LIMITS
from pipelines.runs.models import (  # noqa: F401 - DURATION_BUCKETS is part of this module's interface
    DONE,
    DURATION_BUCKETS,
    FAILED,
    KILLED,
    bucket_column,
    crawl_totals,
    quality_latest,
    run_totals,
    runs,
)

FINAL = (DONE, FAILED, KILLED)
BUCKET_COLUMNS = tuple(bucket_column(le) for le in DURATION_BUCKETS)
STATUS_CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
STORED_KINDS = ("new", "changed", "unchanged")
# The crawler's fixed failure reasons; http_404 and the like fold into http_4xx / http_5xx, the rest into other.
FAILURE_REASONS = ("timeout", "connection_error", "proxy_error", "truncated", "too_large", "decode_error",
                   "bad_redirect", "redirect_loop", "max_redirects", "error_redirect", "content_check",
                   "no_live_proxy", "internal_error", "http_4xx", "http_5xx", "other")
# Scrapy's finish_reason values (its own and its CloseSpider extension's); anything else is other,
# a run that left no stats (it never closed) is none.
FINISH_REASONS = ("finished", "shutdown", "cancelled", "closespider_timeout", "closespider_timeout_no_item",
                  "closespider_itemcount", "closespider_pagecount", "closespider_errorcount", "none", "other")
SCRAPY_CLOSES = "scrapy_closes_"
LIMIT_HITS, LIMIT_URLS = "limit_hits_", "limit_urls_"  # + a name of pipelines.limits.LIMITS
LAST_SUCCESS = "last_success_at"
PARSE_RUNS = "parse_runs"  # runs that reported items parsed (ParsePages, Scrapy spiders): items per run
# Task runs per crawl, by family: `runs.<status>.<family>` counts, `failed_at.<family>` the newest failed or
# killed end. Rows of runs without a crawl (backups, pruning) have the crawl "". The name column holds 40
# characters, so the family is cut at 28 (the code's families are far shorter).
TASK_RUNS = "runs."
TASK_FAILED_AT = "failed_at."
FAMILY_CHARS = 28
MAX_NAMES = (LAST_SUCCESS,)  # kept as the newest value, as is every TASK_FAILED_AT name; every other is a sum
_HTTP_REASON = re.compile(r"^http_([45])\d\d$")


@dataclass(frozen=True)
class Outcome:
    """A run that reached a final status (from its crawl_runs row)."""

    family: str
    crawl: str | None
    status: str
    started_at: datetime
    finished_at: datetime
    stats: str | dict | None = None
    run_id: int | None = None


def crawl_label(crawl: str) -> str:
    """The crawl as a label: a spec given as a path (`specs/shop.toml`) counts under its name (`shop`)."""
    if crawl.endswith(".toml") or "/" in crawl or "\\" in crawl:
        return PurePath(crawl.replace("\\", "/")).stem[:100]
    return crawl[:100]


def failure_reason(reason: str) -> str:
    match = _HTTP_REASON.match(reason)
    if match:
        return f"http_{match.group(1)}xx"
    return reason if reason in FAILURE_REASONS else "other"


def finish_reason(reason: Any) -> str:
    if reason is None:
        return "none"
    return reason if reason in FINISH_REASONS else "other"


def crawl_counts(family: str, stats: Any) -> dict[str, float]:
    """The crawl counters in a stage's run_stats (names of crawl_crawl_totals).

    A Scrapy spider's run (pipelines/external/scrapy.py: stats with "engine": "scrapy", whatever the
    task's family) counts as a crawl's fetch and parse together, plus its errors and finish reason.
    """
    if isinstance(stats, str):
        try:
            stats = json.loads(stats)
        except ValueError:
            return {}
    if not isinstance(stats, dict):
        return {}
    counts: dict[str, float] = {}

    def put(name: str, value: Any) -> None:
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            counts[name] = counts.get(name, 0) + value

    if stats.get("engine") == "scrapy":
        put("pages_fetched", stats.get("pages"))
        put("bytes", stats.get("bytes"))
        put("retries", stats.get("retries"))
        for status, n in _items(stats.get("responses_by_status")):
            if len(status) == 3 and status.isdigit() and "1" <= status[0] <= "5":
                put(f"responses_{status[0]}xx", n)
        put("items_parsed", stats.get("items"))
        put("items_dropped", stats.get("items_dropped"))
        put("scrapy_errors", stats.get("errors"))
        counts[SCRAPY_CLOSES + finish_reason(stats.get("finish_reason"))] = 1
        if isinstance(stats.get("items"), int):  # as for ParsePages: a run that reported items parsed
            counts[PARSE_RUNS] = 1
    elif family == "FetchPages":
        put("pages_fetched", stats.get("fetched"))
        put("bytes", stats.get("bytes"))
        put("retries", stats.get("retries"))
        for status, n in _items(stats.get("responses_by_status")):
            if len(status) == 3 and status.isdigit() and "1" <= status[0] <= "5":
                put(f"responses_{status[0]}xx", n)
        for reason, n in _items(stats.get("failed_by_reason")):
            put(f"failures_{failure_reason(reason)}", n)
        for hit in stats.get("limits") if isinstance(stats.get("limits"), list) else []:
            if isinstance(hit, dict) and hit.get("limit") in LIMITS:  # pipelines/limits.py
                put(f"{LIMIT_HITS}{hit['limit']}", 1)
                put(f"{LIMIT_URLS}{hit['limit']}", hit.get("urls"))
    elif family == "ParsePages":
        if isinstance(stats.get("items"), int):
            counts[PARSE_RUNS] = 1
        put("items_parsed", stats.get("items"))
        put("items_dropped", stats.get("errors"))
    elif family == "StoreItems":
        for kind in STORED_KINDS:
            put(f"items_stored_{kind}", stats.get(kind))
    return counts


QUALITY_KEYS = ("coverage", "monitors", "baseline", "violations")


def quality_row(crawl: str, run_id: int | None, stats: Any) -> dict[str, Any] | None:
    """The crawl_quality_latest row of a StoreItems run's stats, or None without a quality report."""
    if isinstance(stats, str):
        try:
            stats = json.loads(stats)
        except ValueError:
            return None
    quality = stats.get("quality") if isinstance(stats, dict) else None
    if not isinstance(quality, dict) or run_id is None:
        return None
    try:
        tick = datetime.fromisoformat(str(quality["tick"]).replace("Z", "+00:00")).timestamp()
        items = int(quality.get("items") or 0)
    except (KeyError, TypeError, ValueError):
        return None
    schema = quality.get("schema") if isinstance(quality.get("schema"), dict) else None
    report = {key: quality.get(key) for key in QUALITY_KEYS}
    report["invalid_ratio"] = schema.get("ratio") if schema else None
    return {"crawl": crawl, "tick": tick, "run_id": run_id, "items": items,
            "verdict": str(quality.get("verdict") or "ok")[:10], "report": json.dumps(report, sort_keys=True)}


def _items(value: Any) -> list[tuple[str, Any]]:
    return [(str(k), v) for k, v in value.items()] if isinstance(value, dict) else []


def _duration_us(outcome: Outcome) -> int:
    return max(0, (outcome.finished_at - outcome.started_at) // timedelta(microseconds=1))


class Totals:
    """Outcomes merged the way the upserts merge them: sums, bucket counts, the newest end."""

    def __init__(self) -> None:
        self.runs: dict[tuple[str, str], dict[str, Any]] = {}
        self.crawls: dict[tuple[str, str], float] = {}
        self.quality: dict[str, dict[str, Any]] = {}

    def add(self, outcome: Outcome) -> None:
        if outcome.status not in FINAL:
            raise ValueError(f"only final outcomes are counted, not {outcome.status!r}")
        duration = _duration_us(outcome)
        ended = outcome.finished_at.timestamp()
        buckets = zip(BUCKET_COLUMNS, DURATION_BUCKETS, strict=True)
        row = {"runs": 1, "duration_us": duration, "last_finished": ended, "last_duration_us": duration,
               **{col: int(duration <= le * 1_000_000) for col, le in buckets}}
        key = (outcome.family[:100], outcome.status)
        old = self.runs.get(key)
        if old is None:
            self.runs[key] = row
        else:
            for col in ("runs", "duration_us", *BUCKET_COLUMNS):
                old[col] += row[col]
            if _newer(ended, duration, old["last_finished"], old["last_duration_us"]):
                old["last_finished"], old["last_duration_us"] = ended, duration
        crawl = crawl_label(outcome.crawl or "")
        family = outcome.family[:FAMILY_CHARS]
        self._sum(crawl, f"{TASK_RUNS}{outcome.status}.{family}", 1)
        if outcome.status != DONE:
            self._newest(crawl, TASK_FAILED_AT + family, ended)
        if not crawl:
            return
        if outcome.family == "StoreItems":
            row = quality_row(crawl, outcome.run_id, outcome.stats)
            old = self.quality.get(crawl)
            if row is not None and (old is None or (row["tick"], row["run_id"]) >= (old["tick"], old["run_id"])):
                self.quality[crawl] = row
        counts = crawl_counts(outcome.family, outcome.stats)
        for name, value in counts.items():
            self._sum(crawl, name, value)
        whole = outcome.family == "RunCrawl" or any(name.startswith(SCRAPY_CLOSES) for name in counts)
        if whole and outcome.status == DONE:
            self._newest(crawl, LAST_SUCCESS, ended)

    def _sum(self, crawl: str, name: str, value: float) -> None:
        self.crawls[crawl, name] = self.crawls.get((crawl, name), 0) + value

    def _newest(self, crawl: str, name: str, value: float) -> None:
        self.crawls[crawl, name] = max(value, self.crawls.get((crawl, name), value))

    def run_rows(self) -> list[dict[str, Any]]:
        # Sorted: concurrent writers lock the rows in one order (no deadlock on PostgreSQL / MySQL).
        return [{"family": f, "status": s, **values} for (f, s), values in sorted(self.runs.items())]

    def crawl_rows(self) -> list[dict[str, Any]]:
        return [{"crawl": c, "name": n, "value": v} for (c, n), v in sorted(self.crawls.items())]

    def quality_rows(self) -> list[dict[str, Any]]:
        return [row for _, row in sorted(self.quality.items())]


def _newer(ended: float, duration: int, last_ended: float, last_duration: int) -> bool:
    # Ties go to the longer run, so the result does not depend on the order outcomes arrive in.
    return ended > last_ended or (ended == last_ended and duration > last_duration)


# -- writing ----------------------------------------------------------------------------------


def record(conn: Connection, outcomes: Iterable[Outcome]) -> None:
    """Add outcomes to the totals, inside the caller's transaction (dialect upserts)."""
    totals = Totals()
    for outcome in outcomes:
        totals.add(outcome)
    if totals.runs:
        conn.execute(_run_upsert(conn), totals.run_rows())
    if totals.crawls:
        conn.execute(_crawl_upsert(conn), totals.crawl_rows())
    if totals.quality:
        conn.execute(_quality_upsert(conn), totals.quality_rows())


def _insert(conn: Connection, table: sa.Table) -> Any:
    name = conn.dialect.name
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    elif name in ("mysql", "mariadb"):
        from sqlalchemy.dialects.mysql import insert
    else:
        raise NotImplementedError(f"run totals need SQLite, PostgreSQL or MySQL/MariaDB, not {name}")
    return insert(table)


def _upsert(conn: Connection, table: sa.Table, stmt: Any, assignments: list[tuple[str, Any]]) -> Any:
    if conn.dialect.name in ("mysql", "mariadb"):
        # MySQL evaluates assignments in order, each seeing the ones before: the list keeps that order.
        return stmt.on_duplicate_key_update(assignments)
    return stmt.on_conflict_do_update(index_elements=[c.name for c in table.primary_key], set_=dict(assignments))


def _new(conn: Connection, stmt: Any) -> Any:
    return stmt.inserted if conn.dialect.name in ("mysql", "mariadb") else stmt.excluded


def _run_upsert(conn: Connection) -> Any:
    t = run_totals.c
    stmt = _insert(conn, run_totals)
    new = _new(conn, stmt)
    newer = sa.or_(new.last_finished > t.last_finished,
                   sa.and_(new.last_finished == t.last_finished, new.last_duration_us > t.last_duration_us))
    assignments = [(col, t[col] + new[col]) for col in ("runs", "duration_us", *BUCKET_COLUMNS)]
    # last_duration_us before last_finished: on MySQL it must still see the old last_finished.
    assignments += [("last_duration_us", sa.case((newer, new.last_duration_us), else_=t.last_duration_us)),
                    ("last_finished", sa.case((newer, new.last_finished), else_=t.last_finished))]
    return _upsert(conn, run_totals, stmt, assignments)


def _crawl_upsert(conn: Connection) -> Any:
    t = crawl_totals.c
    stmt = _insert(conn, crawl_totals)
    new = _new(conn, stmt)
    newest = sa.case((new.value > t.value, new.value), else_=t.value)
    # The names as SQL literals, not parameters: PyMySQL's executemany allows none after VALUES.
    is_max = sa.or_(*(t.name == sa.literal_column(f"'{name}'") for name in MAX_NAMES),
                    t.name.like(sa.literal_column(f"'{TASK_FAILED_AT}%'")))
    return _upsert(conn, crawl_totals, stmt, [("value", sa.case((is_max, newest), else_=t.value + new.value))])


def _quality_upsert(conn: Connection) -> Any:
    """The newest tick's row wins (ties: the later run, a rerun of the same tick)."""
    t = quality_latest.c
    stmt = _insert(conn, quality_latest)
    new = _new(conn, stmt)
    newer = sa.or_(new.tick > t.tick, sa.and_(new.tick == t.tick, new.run_id >= t.run_id))
    # tick and run_id last: on MySQL the other assignments must still see the old ones.
    names = ("items", "verdict", "report", "run_id", "tick")
    return _upsert(conn, quality_latest, stmt, [(n, sa.case((newer, new[n]), else_=t[n])) for n in names])


class _NotRecorded(Exception):
    pass


def in_one_transaction(engine: Engine, change: Callable[[Connection], list[Outcome]], what: str) -> None:
    """Make `change` and add the outcomes it returns to the totals, in one transaction.

    If adding fails (a bug, a table dropped by hand), `change` is made again alone and the
    problem reported: a run's record is never lost to its totals, which stay short until
    `--rebuild`.
    """
    try:
        with engine.begin() as conn:
            outcomes = change(conn)
            try:
                record(conn, outcomes)
            except sa.exc.SQLAlchemyError as exc:
                raise _NotRecorded(f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}") from exc
    except _NotRecorded as failed:
        _report(f"run totals not updated for {what} ({failed}); run `python -m pipelines.runs.totals --rebuild`")
        with engine.begin() as conn:
            change(conn)


def _report(message: str) -> None:
    stream = sys.__stderr__  # as sink.report: never through a run's log capture
    if stream is not None:
        stream.write(f"crawlops.runs: {message}\n")
        stream.flush()


# -- rebuilding -------------------------------------------------------------------------------


def rebuild(engine: Engine, batch: int = 10_000) -> int:
    """Recompute both totals tables from every finished crawl_runs row, in one transaction; returns the rows read.

    The write lock is taken first (SQLite BEGIN IMMEDIATE, PostgreSQL SHARE lock on
    crawl_runs), so no outcome recorded meanwhile is lost: finishing runs wait.
    """
    query = (sa.select(runs.c.family, runs.c.crawl, runs.c.status, runs.c.started_at, runs.c.finished_at,
                       runs.c.stats, runs.c.id)
             .where(runs.c.status.in_(FINAL), runs.c.finished_at.is_not(None)))
    totals = Totals()
    read = 0
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        elif conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE crawl_runs IN SHARE MODE")
        result = conn.execute(query.execution_options(stream_results=True))
        for rows in result.partitions(batch):
            for row in rows:
                totals.add(Outcome(*row))
            read += len(rows)
        conn.execute(run_totals.delete())
        conn.execute(crawl_totals.delete())
        conn.execute(quality_latest.delete())
        if totals.runs:
            conn.execute(run_totals.insert(), totals.run_rows())
        if totals.crawls:
            conn.execute(crawl_totals.insert(), totals.crawl_rows())
        if totals.quality:
            conn.execute(quality_latest.insert(), totals.quality_rows())
    return read


def read_totals(engine: Engine) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Both tables, ordered: for tests and checks."""
    with engine.connect() as conn:
        run_rows = [dict(r) for r in conn.execute(sa.select(run_totals).order_by(*run_totals.primary_key)).mappings()]
        crawl_rows = [dict(r) for r in
                      conn.execute(sa.select(crawl_totals).order_by(*crawl_totals.primary_key)).mappings()]
    return run_rows, crawl_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipelines.runs.totals",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--rebuild", action="store_true", required=True,
                        help="recompute crawl_run_totals, crawl_crawl_totals and crawl_quality_latest from crawl_runs")
    parser.parse_args(argv)
    from pipelines.runs.records import engine_for  # noqa: PLC0415 - records imports this module
    from pipelines.runs.settings import history_url  # noqa: PLC0415

    started = time.monotonic()
    read = rebuild(engine_for(history_url()))
    print(f"rebuilt the run totals from {read:,} finished runs in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
