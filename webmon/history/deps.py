"""Reads of crawl_run_deps: the recorded requirements behind the run page's graph and the grid.

The workers write one row per run (pipelines/runs/deps.py): the task's direct
requirements, the ScheduledRun that started it (CRAWLOPS_SCHEDULED_RUN) and
its luigi worker id. Every read here is one bounded query:

- `deps_of(run_id)`: the run's own row (primary key).
- `group_of(row)`: the rows of the same tick (scheduled_run, run_id) or, for
  a run started by hand, of the same luigi invocation up to this run
  (worker, run_id): the runs a task's requirements ran in. One index range,
  newest first, at most GROUP_ROWS.
- `latest_runs(task_ids)`: the newest run record of each task_id, one
  (task_id, started_at) index seek per id in one UNION ALL (on PostgreSQL
  one LATERAL join: it plans a long UNION ALL slowly).
- `tick_runs(scheduled_runs)`: the rows of a page of ticks with their runs,
  for the grid (scheduled_run, run_id).

Histories written before crawl_run_deps existed (or by stock Luigi) have no
such table: the reads answer "nothing recorded" instead of an error.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from django.db import DatabaseError, connections, models
from django.db.models import QuerySet

from webmon.history.readonly import HistoryModel
from webmon.history.runs import CrawlRun
from webmon.history.sqlfuncs import union_all
from webmon.routers import HISTORY_ALIAS

GROUP_ROWS = 1000  # rows of one tick or invocation read for a graph
TICK_ROWS = 5000  # rows of a page of ticks read for the grid
LATEST_FIELDS = ("id", "task_id", "family", "status", "started_at", "finished_at", "heartbeat_at", "params")
T = TypeVar("T")


class CrawlRunDeps(HistoryModel):
    """A row of crawl_run_deps: what the task of one run required, and the tick it ran for."""

    run = models.OneToOneField(
        CrawlRun, models.DO_NOTHING, primary_key=True, db_column="run_id", db_constraint=False, related_name="deps"
    )
    scheduled_run = models.IntegerField(null=True)
    worker = models.CharField(max_length=255, null=True)  # noqa: DJ001 - mirrors the schema
    requires = models.TextField()

    class Meta:
        managed = False
        db_table = "crawl_run_deps"

    def __str__(self) -> str:
        return f"requirements of run {self.run_id}"


@dataclass(frozen=True)
class Requirement:
    task_id: str
    family: str


@dataclass(frozen=True)
class DepsRow:
    """One run's recorded requirements, with the task_id and status of the run."""

    run_id: int
    task_id: str
    family: str
    scheduled_run: int | None
    worker: str | None
    requires: tuple[Requirement, ...]


def parse_requires(text: str | None) -> tuple[Requirement, ...]:
    """The JSON list a worker wrote; entries that are not {"task_id", "family"} strings are skipped."""
    try:
        data = json.loads(text or "[]")
    except ValueError:
        return ()
    if not isinstance(data, list):
        return ()
    out = []
    for item in data:
        if isinstance(item, dict) and isinstance(item.get("task_id"), str) and item["task_id"]:
            family = item.get("family")
            out.append(Requirement(item["task_id"], family if isinstance(family, str) else ""))
    return tuple(out)


def table_missing() -> bool:
    """True when the history has no crawl_run_deps (written before it existed, or by stock Luigi)."""
    connection = connections[HISTORY_ALIAS]
    with connection.cursor() as cursor:
        return CrawlRunDeps._meta.db_table not in connection.introspection.table_names(cursor)


def _or_missing(read: Callable[[], T], default: T) -> T:
    # The table is looked for only when a read fails: a history that has it pays nothing.
    try:
        return read()
    except DatabaseError:
        if table_missing():
            return default
        raise


_ROW_FIELDS = ("run_id", "run__task_id", "run__family", "scheduled_run", "worker", "requires")


def _row(values: tuple[Any, ...]) -> DepsRow:
    run_id, task_id, family, scheduled, worker, requires = values
    return DepsRow(int(run_id), task_id or "", family or "", scheduled, worker, parse_requires(requires))


def deps_of(run_id: int) -> DepsRow | None:
    """The run's recorded requirements, or None (nothing recorded, or no such table)."""

    def read() -> DepsRow | None:
        found = CrawlRunDeps.objects.filter(run_id=run_id).values_list(*_ROW_FIELDS).first()
        return _row(found) if found else None

    return _or_missing(read, None)


def group_of(row: DepsRow, limit: int = GROUP_ROWS) -> list[DepsRow]:
    """The rows of the run's tick (all of them), or of its luigi invocation up to the run, newest first."""
    if row.scheduled_run is not None:
        qs = CrawlRunDeps.objects.filter(scheduled_run=row.scheduled_run)
    elif row.worker:
        # A task runs after its requirements: in one invocation they have smaller run ids.
        qs = CrawlRunDeps.objects.filter(worker=row.worker, run_id__lte=row.run_id)
    else:
        return [row]
    return [_row(v) for v in qs.order_by("-run_id").values_list(*_ROW_FIELDS)[:limit]]


def latest_runs(task_ids: Sequence[str]) -> dict[str, CrawlRun]:
    """The newest run record of each task_id that has one: one index seek per id, in one UNION ALL.

    The member query is compiled once and repeated with each id (compiling
    200 querysets cost Django more than the database spent on them).
    """
    ids = list(dict.fromkeys(task_ids))
    if not ids:
        return {}

    def member(task_id: str) -> QuerySet[CrawlRun]:
        return CrawlRun.objects.filter(task_id=task_id).order_by("-started_at", "-id").only(*LATEST_FIELDS)[:1]

    alias = member(ids[0]).db
    if connections[alias].vendor == "postgresql":
        return {run.task_id: run for run in CrawlRun.objects.raw(*_lateral_latest(alias, ids), using=alias)}
    sql_a, params_a = member("\x00a").query.get_compiler(using=alias).as_sql()
    sql_b, params_b = member("\x00b").query.get_compiler(using=alias).as_sql()
    slots = [i for i, (a, b) in enumerate(zip(params_a, params_b, strict=True)) if a != b]
    if sql_a != sql_b or len(slots) != 1:  # not the one-parameter query expected: compile each member
        return {run.task_id: run for run in union_all([member(t) for t in ids])}
    parts, params = [], []
    for n, task_id in enumerate(ids):
        parts.append(f"SELECT * FROM ({sql_a}) u{n}")
        values = list(params_a)
        values[slots[0]] = task_id
        params.extend(values)
    return {run.task_id: run for run in CrawlRun.objects.raw(" UNION ALL ".join(parts), params, using=alias)}


def _lateral_latest(alias: str, ids: list[str]) -> tuple[str, list[Any]]:
    """PostgreSQL: the same seeks as one LATERAL join over the ids (it plans a 200-member UNION ALL
    in about 45 ms, longer than it runs it; this plan is one seek repeated)."""
    quote = connections[alias].ops.quote_name
    table = quote(CrawlRun._meta.db_table)
    columns = ", ".join(f"r.{quote(CrawlRun._meta.get_field(f).column)}" for f in LATEST_FIELDS)
    sql = (
        f"SELECT {columns} FROM unnest(%s::text[]) AS t(task_id) CROSS JOIN LATERAL"
        f" (SELECT * FROM {table} WHERE {table}.{quote('task_id')} = t.task_id"
        f" ORDER BY {quote('started_at')} DESC, {quote('id')} DESC LIMIT 1) r"
    )
    return sql, [ids]


@dataclass(frozen=True, slots=True)
class TickRunRecord:
    """The columns of a run the grid needs; a page reads thousands, so not model instances."""

    id: int
    task_id: str
    family: str
    status: str
    params: str
    started_at: datetime
    heartbeat_at: datetime

    def display_status(self, now: datetime, stale_after: timedelta) -> str:
        return CrawlRun.display_status(self, now, stale_after)  # type: ignore[arg-type] - the same rule


@dataclass(frozen=True)
class TickRun:
    """A run of one of the grid's ticks, with what its task required."""

    scheduled_run: int
    run: TickRunRecord
    requires: tuple[Requirement, ...]


_TICK_FIELDS = ("scheduled_run", "requires", *(f"run__{f}" for f in TickRunRecord.__slots__))


def tick_runs(scheduled_runs: Sequence[int], limit: int = TICK_ROWS) -> list[TickRun]:
    """The runs of these ticks (ScheduledRun pks), oldest first; [] without the table."""
    if not scheduled_runs:
        return []

    def read() -> list[TickRun]:
        qs = (
            CrawlRunDeps.objects.filter(scheduled_run__in=list(scheduled_runs))
            .order_by("-run_id")
            .values_list(*_TICK_FIELDS)[:limit]
        )
        rows = [TickRun(v[0], TickRunRecord(*v[2:]), parse_requires(v[1])) for v in qs]
        return rows[::-1]

    return _or_missing(read, [])
