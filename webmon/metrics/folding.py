"""Counts of ended scheduled runs, kept incrementally: a scrape reads new and open runs, never all of them.

ScheduledRun grows with every tick, and a COUNT grouped by (schedule, state)
reads all of it (62 ms at 1,000,000 rows on SQLite, and linear). So each scrape
folds what changed since the last one into `ScheduleTotals`:

- rows after the high-water mark `Cursor.last_id` that have already ended are
  counted by one aggregate query over that id range (at most CATCH_UP rows a
  scrape: the first scrapes of a long history take it in bites);
- runs still queued or running (few: the `(state, not_before)` index finds
  them) are remembered as `PendingRun` rows, and counted when they end;
- a run that is open again below the mark (an operator's rerun) is remembered
  too, so its new end counts as well (a rerun that starts and ends between two
  scrapes is missed).

The start delay of a scheduled run (started_at - logical_time, in whole
milliseconds) is counted once, from its first attempt: when a scrape first
sees it started (or ended) with `attempts == 1`. A run first seen on a later
attempt has lost its first start time and is left out; so are manual and
backfill runs and reruns.

Writes happen in one transaction behind a claim on `Cursor.version`, so two
webmon processes scraping at once never count a run twice: the loser keeps
what the winner wrote. Counts only grow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Max

from webmon.metrics.models import DELAY_BUCKETS, Cursor, PendingRun, ScheduleTotals, delay_column
from webmon.scheduling.models import ScheduledRun

FINAL = ScheduledRun.FINAL  # success, failed, skipped, timed_out: also the names of the count columns
OPEN = (ScheduledRun.QUEUED, ScheduledRun.RUNNING)
DELAY_COLUMNS = tuple(delay_column(le) for le in DELAY_BUCKETS)
TOTAL_FIELDS = (*FINAL, "delay_count", "delay_sum_ms", *DELAY_COLUMNS)
CATCH_UP = 100_000  # runs one scrape looks at past the mark: the first scrapes of a long history stay short
ROW_FIELDS = ("id", "schedule_id", "state", "trigger", "attempts", "started_at", "logical_time")


def _delay_counts(row: dict[str, Any]) -> bool:
    return row["trigger"] == ScheduledRun.SCHEDULE and row["attempts"] == 1 and row["started_at"] is not None


@dataclass
class Fold:
    totals: dict[int, dict[str, int]]
    changed: set[int] = field(default_factory=set)

    def count_end(self, schedule_id: int, state: str, n: int = 1) -> None:
        self._row(schedule_id)[state] += n

    def count_delay(self, schedule_id: int, delay: timedelta) -> None:
        ms = math.floor(delay / timedelta(milliseconds=1) + 0.5)  # as the SQL of _count_new_ends rounds
        row = self._row(schedule_id)
        row["delay_count"] += 1
        row["delay_sum_ms"] += ms
        for column, le in zip(DELAY_COLUMNS, DELAY_BUCKETS, strict=True):
            row[column] += ms <= le * 1000

    def _row(self, schedule_id: int) -> dict[str, int]:
        self.changed.add(schedule_id)
        return self.totals.setdefault(schedule_id, dict.fromkeys(TOTAL_FIELDS, 0))


def read_totals() -> dict[int, dict[str, int]]:
    return {row.pop("schedule_id"): row for row in ScheduleTotals.objects.values("schedule_id", *TOTAL_FIELDS)}


def fold() -> dict[int, dict[str, int]]:
    """Count what ended since the last scrape; returns the totals per schedule id."""
    cursor = Cursor.objects.order_by("pk").first() or Cursor.objects.create()
    mark = ScheduledRun.objects.aggregate(last=Max("id"))["last"] or 0
    if mark - cursor.last_id > CATCH_UP:  # a big backlog (the first scrapes of a long history): a bite at a time
        bite = ScheduledRun.objects.filter(id__gt=cursor.last_id).order_by("id").values_list("id", flat=True)
        mark = next(iter(bite[CATCH_UP - 1:CATCH_UP]), mark)
    result = Fold(read_totals())
    pending = dict(PendingRun.objects.values_list("run_id", "delay_done"))
    new: dict[int, bool] = {}  # run id -> delay_done, for PendingRun rows to insert
    started: list[int] = []  # pending runs whose delay was counted now
    open_ids = set()
    # Open runs first: a run that ends between the two queries is then either pending or in the aggregate.
    for row in ScheduledRun.objects.filter(state__in=OPEN, id__lte=mark).values(*ROW_FIELDS):
        run_id = row["id"]
        open_ids.add(run_id)
        if run_id in pending:
            if not pending[run_id] and row["started_at"] is not None:
                _delay(result, row)
                started.append(run_id)
        elif run_id > cursor.last_id:  # new since the last scrape, and still open
            new[run_id] = row["started_at"] is not None
            _delay(result, row)
        else:  # open again below the mark: a rerun (or, on a busy server, a row committed late)
            new[run_id] = True
    if mark > cursor.last_id:
        _count_new_ends(result, cursor.last_id, mark, exclude=[i for i in open_ids if i > cursor.last_id])
    gone = [run_id for run_id in pending if run_id not in open_ids]
    if gone:
        for row in ScheduledRun.objects.filter(id__in=gone).values(*ROW_FIELDS):
            if row["state"] in FINAL:
                result.count_end(row["schedule_id"], row["state"])
                if not pending[row["id"]]:
                    _delay(result, row)
            # a row open again (rerun since the query above) is found open at the next scrape
    if mark == cursor.last_id and not (new or started or gone or result.changed):
        return result.totals
    return _write(cursor, mark, result, new, started, gone)


def _delay(result: Fold, row: dict[str, Any]) -> None:
    if _delay_counts(row):
        result.count_delay(row["schedule_id"], row["started_at"] - row["logical_time"])


# started_at - logical_time in whole milliseconds, in the database's own arithmetic: no Python function per
# row (Django's duration arithmetic on SQLite calls one), which matters for the first scrapes of a big history.
DELAY_MS = {
    "sqlite": "CAST(ROUND((julianday({started}) - julianday({logical})) * 86400000) AS INTEGER)",  # ms precision
    "postgresql": "CAST(ROUND(EXTRACT(EPOCH FROM ({started} - {logical})) * 1000) AS BIGINT)",
    "mysql": "ROUND(TIMESTAMPDIFF(MICROSECOND, {logical}, {started}) / 1000)",
}


def _count_new_ends(result: Fold, after: int, mark: int, exclude: list[int]) -> None:
    """One aggregate over the rows (after, mark] that have ended (those just seen open excepted, they are
    pending now): outcomes and first-attempt start delays."""
    q = connection.ops.quote_name
    table, final = ScheduledRun._meta.db_table, ", ".join(["%s"] * len(FINAL))
    delay = DELAY_MS[connection.vendor].format(started=q("started_at"), logical=q("logical_time"))
    buckets = ", ".join(f"SUM(CASE WHEN d <= {int(le * 1000)} THEN 1 ELSE 0 END)" for le in DELAY_BUCKETS)
    skip = f" AND {q('id')} NOT IN ({', '.join(['%s'] * len(exclude))})" if exclude else ""
    sql = (f"SELECT schedule_id, state, COUNT(*), COUNT(d), COALESCE(SUM(d), 0), {buckets} FROM ("
           f"SELECT {q('schedule_id')} AS schedule_id, {q('state')} AS state, CASE WHEN {q('trigger')} = %s AND "
           f"{q('attempts')} = 1 AND {q('started_at')} IS NOT NULL THEN {delay} END AS d FROM {q(table)} "
           f"WHERE {q('id')} > %s AND {q('id')} <= %s AND {q('state')} IN ({final}){skip}) ended "
           "GROUP BY schedule_id, state")
    with connection.cursor() as cursor:
        cursor.execute(sql, [ScheduledRun.SCHEDULE, after, mark, *FINAL, *exclude])
        rows = cursor.fetchall()
    for schedule_id, state, n, delays, delay_sum, *counts in rows:
        result.count_end(schedule_id, state, n)
        if delays:
            totals = result.totals[schedule_id]
            totals["delay_count"] += delays
            totals["delay_sum_ms"] += int(delay_sum)
            for column, count in zip(DELAY_COLUMNS, counts, strict=True):
                totals[column] += int(count)


def _write(cursor: Cursor, mark: int, result: Fold, new: dict[int, bool], started: list[int],
           gone: list[int]) -> dict[int, dict[str, int]]:
    with transaction.atomic():
        claimed = Cursor.objects.filter(pk=cursor.pk, version=cursor.version).update(
            last_id=mark, version=F("version") + 1)
        if not claimed:  # another process folded since we read: its totals stand, ours are dropped
            return read_totals()
        if result.changed:
            rows = [ScheduleTotals(schedule_id=sid, **result.totals[sid]) for sid in sorted(result.changed)]
            target = {"unique_fields": ["schedule_id"]} if connection.features.supports_update_conflicts_with_target \
                else {}
            ScheduleTotals.objects.bulk_create(rows, update_conflicts=True, update_fields=list(TOTAL_FIELDS), **target)
        if new:
            PendingRun.objects.bulk_create([PendingRun(run_id=i, delay_done=d) for i, d in sorted(new.items())])
        if started:
            PendingRun.objects.filter(run_id__in=started).update(delay_done=True)
        if gone:
            PendingRun.objects.filter(run_id__in=gone).delete()
    return result.totals
