"""Queries on the run tables, each bounded so every page stays fast at a million runs.

The indexes (pipelines/runs/models.py) and how each read uses them:

- (started_at): the runs list, newest first, keyset-paginated on
  (started_at, id); recent failures; the 7-day status counts.
- (crawl, started_at): everything per crawl (newest runs, last success,
  the 90-day calendar, failures, items stored); the crawl filter.
- (family, started_at): the families page (newest runs per family in a
  window, family_window_stats); the family filter.
- (crawl, status, family, started_at): the tick counts (done last stages
  per day, index-only; the few runs not done, a range each) and the last
  success of each crawl.
- (task_id, started_at, status, id): the runs of a tick (task_ids computed,
  see ticks.py); for the tick counts from the index alone.
- crawl_run_logs (run_id, seq): log lines after line N.

Filters no index serves (status, host, parameter search) look at a bounded
window of runs per page (`window`), newest first, and say where they stopped,
so a rare value never turns a page into a scan of the whole table. No list
page counts the table; every aggregate has a time window.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections
from django.db.models import Case, CharField, Count, FloatField, IntegerField, OuterRef, Q, Subquery, Value, When
from django.db.models.functions import Cast, Length, Substr

from webmon.history.fields import LuigiTimestampField
from webmon.history.readonly import ReadOnlyQuerySet
from webmon.history.sqlfuncs import (
    NoIndex,
    Seconds,
    counts_in_ranges,
    distinct_values,
    union_all_per_key,
    union_all_values,
    union_all_values_per_key,
)
from webmon.history.ticks import (
    BAD,
    DECIDERS,
    DONE,
    ENDS,
    FINISHED,
    LAST_STAGE,
    LAST_STAGES,
    NOT_DONE,
    ONE_TASK_CRAWLS,
    STATUSES,
    TICK_FAMILIES,
    LeanRun,
    Tick,
    tally_ticks,
    tick_key,
    tick_task_ids,
    tick_tasks,
    ticks_of,
)

LAST_ID = 2**63 - 1  # with a start time, a cursor past every run of that instant
HEAD_CHARS = 300  # of error messages and parameters on list pages
TICK_FIELDS = ("id", "task_id", "family", "crawl", "status", "started_at", "finished_at", "heartbeat_at")
TREND_FIELDS = ("id", "task_id", "family", "status", "started_at", "finished_at", "heartbeat_at")  # LeanRun's
LIST_FIELDS = (*TICK_FIELDS, "host", "attempt", "error_type", "log_lines")
DECIDING_RUNS = 10  # x ticks wanted: the deciding runs the trend reads at a time (newest_ticks)
DECIDING_ROUNDS = 4
MAX_UNCLEAN_TICKS = 5000  # ticks with a failed, killed or running run that one window reads whole


@dataclass(frozen=True)
class Cursor:
    """A position in the newest-first order of runs: (started_at, id)."""

    started_at: datetime
    id: int

    _FORMAT = "%Y%m%dT%H%M%S.%fZ"

    def encode(self) -> str:
        return f"{self.started_at.strftime(self._FORMAT)}-{self.id}"

    @classmethod
    def decode(cls, text: str) -> Cursor | None:
        """The cursor written by encode(), or None for anything else."""
        stamp, _, ident = text.partition("-")
        try:
            when = datetime.strptime(stamp, cls._FORMAT).replace(tzinfo=UTC)
            return cls(when, int(ident))
        except ValueError:
            return None

    @classmethod
    def of(cls, run: Any) -> Cursor:
        return cls(run.started_at, run.id)


@dataclass(frozen=True)
class RunFilter:
    """What the runs list is filtered by; empty strings mean no filter."""

    crawl: str = ""
    family: str = ""
    status: str = ""
    host: str = ""
    task_id: str = ""
    q: str = ""  # a substring of the parameters (JSON text)
    since: datetime | None = None
    until: datetime | None = None

    @property
    def scans(self) -> bool:
        """True when a filter needs a look at rows no index narrows down."""
        return bool(self.status or self.host or self.q)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No garbage collection inside: for a burst of short-lived tuples (rows) that refcounting frees anyway.

    Every 700 new tuples start a collection, and tens of thousands of them
    alive at once make Python walk the whole heap (a full collection) every
    few pages. Process-wide, so it restores only what it found: a
    concurrent request can at worst collect during its own burst.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def percentile(values: Sequence[float], p: int) -> float | None:
    """The nearest-rank percentile `p` (1-100) of `values`: the ceil(p * len / 100)-th smallest, or None."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max((p * len(ordered) + 99) // 100 - 1, 0)]


@dataclass
class FamilyWindow:
    """The newest runs of one family in a window, summed up (the families page)."""

    family: str
    statuses: dict[str, int]  # runs per status
    p50: float | None  # seconds, nearest rank over the finished runs' durations (None: none finished)
    p95: float | None
    newest: datetime | None = None  # start of the newest run
    oldest: datetime | None = None  # start of the oldest run in the window

    @property
    def runs(self) -> int:
        return sum(self.statuses.values())


@dataclass
class TickPage:
    """A page of the runs list grouped by tick: ticks ordered by their newest run, newest first."""

    ticks: list[Tick]
    heads: dict[str, Any]  # a listed run of each tick (its params_head has the logical time)
    older: Cursor | None
    scanned_to: datetime | None = None


@dataclass
class RunPage:
    runs: list[Any]
    older: Cursor | None  # continue with older runs from here
    newer: Cursor | None  # continue with newer runs from here
    scanned_to: datetime | None = None  # the scan window ended this page here


class RunQuerySet(ReadOnlyQuerySet):
    # -- orders, cursors, filters ------------------------------------------------

    def newest_first(self) -> RunQuerySet:
        return self.order_by("-started_at", "-id")

    def oldest_first(self) -> RunQuerySet:
        return self.order_by("started_at", "id")

    def older_than(self, c: Cursor, *, inclusive: bool = False) -> RunQuerySet:
        # The plain bound on started_at lets every backend range-scan the index.
        same = Q(id__lte=c.id) if inclusive else Q(id__lt=c.id)
        return self.filter(
            Q(started_at__lt=c.started_at) | (Q(started_at=c.started_at) & same), started_at__lte=c.started_at
        )

    def newer_than(self, c: Cursor, *, inclusive: bool = False) -> RunQuerySet:
        same = Q(id__gte=c.id) if inclusive else Q(id__gt=c.id)
        return self.filter(
            Q(started_at__gt=c.started_at) | (Q(started_at=c.started_at) & same), started_at__gte=c.started_at
        )

    def indexed_filter(self, f: RunFilter) -> RunQuerySet:
        qs = self
        if f.crawl:
            qs = qs.filter(crawl=f.crawl)
        if f.family:
            qs = qs.filter(family=f.family)
        if f.task_id:
            qs = qs.filter(task_id=f.task_id)
        if f.since:
            qs = qs.filter(started_at__gte=f.since)
        if f.until:
            qs = qs.filter(started_at__lt=f.until)
        return qs

    def matching(self, f: RunFilter) -> RunQuerySet:
        qs = self.indexed_filter(f)
        if f.status:
            qs = qs.filter(status=f.status)
        if f.host:
            qs = qs.filter(host=f.host)
        if f.q:
            qs = qs.filter(params__icontains=f.q)
        return qs

    def listing(self) -> RunQuerySet:
        """The columns of a list row; long texts only as their heads."""
        return self.only(*LIST_FIELDS).annotate(
            error_head=Substr("error_message", 1, HEAD_CHARS), params_head=Substr("params", 1, HEAD_CHARS)
        )

    # -- the runs list -------------------------------------------------------------

    def page(
        self, f: RunFilter, *, before: Cursor | None = None, after: Cursor | None = None, size: int, window: int
    ) -> RunPage:
        """One page of runs, newest first, continuing before or after a cursor.

        Queries: 1, or 2 when a filter scans (the window's far end first).
        """
        going_newer = after is not None and before is None
        indexed, matching = self.indexed_filter(f), self.matching(f)
        if before is not None:
            indexed, matching = indexed.older_than(before), matching.older_than(before)
        elif after is not None:
            indexed, matching = indexed.newer_than(after), matching.newer_than(after)
        if going_newer:
            indexed, matching = indexed.oldest_first(), matching.oldest_first()
        else:
            indexed, matching = indexed.newest_first(), matching.newest_first()

        edge = None
        if f.scans:
            # The start time of the window-th run the indexes allow: this page
            # looks no further. Ordered by started_at alone so every backend
            # reads it straight from an index; all runs of that instant belong
            # to the page, and the next page starts strictly beyond it.
            by_start = indexed.order_by("started_at" if going_newer else "-started_at")
            found = by_start.values_list("started_at", flat=True)[window - 1 : window]
            edge_ts = next(iter(found), None)
            if edge_ts is not None:
                if going_newer:
                    edge, matching = Cursor(edge_ts, LAST_ID), matching.filter(started_at__lte=edge_ts)
                else:
                    edge, matching = Cursor(edge_ts, 0), matching.filter(started_at__gte=edge_ts)
        rows = list(matching.listing()[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        far = Cursor.of(rows[-1]) if more else edge  # where the next page in this direction starts
        if going_newer:
            rows.reverse()
            newer, older = far, (Cursor.of(rows[-1]) if rows else after)
        else:
            older = far
            newer = (Cursor.of(rows[0]) if rows else before) if before is not None else None
        scanned_to = edge.started_at if (edge is not None and not more) else None
        return RunPage(rows, older, newer, scanned_to)

    # -- names ------------------------------------------------------------------

    def crawl_names(self, limit: int) -> list[str]:
        return distinct_values(self.model, "crawl", limit)

    def family_names(self, limit: int) -> list[str]:
        return distinct_values(self.model, "family", limit)

    # -- per crawl ----------------------------------------------------------------

    def newest_of_each_crawl(self, crawls: Sequence[str], n: int) -> list[Any]:
        """The newest `n` runs of each crawl, in one query (one index range per crawl)."""
        return union_all_per_key(lambda _, c: [self.filter(crawl=c).newest_first().only(*TICK_FIELDS)[:n]], crawls)

    def last_success_of_each_crawl(self, crawls: Sequence[str], since: datetime) -> dict[str, Any]:
        """The newest successful last stage (StoreItems, or a one-task crawler) of each crawl since `since`, in one
        query."""
        def member(_: int, crawl: str) -> list[RunQuerySet]:
            # One slice per family: each a seek of (crawl, family, started_at, status); an IN of the
            # families made SQLite read and sort every done last stage of the crawl.
            return [
                self.filter(crawl=crawl, family=family, status=DONE, started_at__gte=since)
                .newest_first()
                .only(*TICK_FIELDS)[:1]
                for family in LAST_STAGES
            ]

        newest: dict[str, Any] = {}
        for run in union_all_per_key(member, crawls):
            seen = newest.get(run.crawl)
            if seen is None or (run.started_at, run.id) > (seen.started_at, seen.id):
                newest[run.crawl] = run
        return newest

    def not_done_since(self, since: datetime) -> RunQuerySet:
        """Runs started since `since` that are not done: failed, killed, running.

        Read through the (status, heartbeat_at) index: a heartbeat is never
        before its run's start, so `heartbeat_at >= since` bounds the range
        and only these (few) rows are looked up.
        """
        # NoIndex: SQLite would otherwise read every run of the period through
        # (crawl, started_at) or (started_at) (it has no statistics on statuses).
        return self.alias(started_noindex=NoIndex("started_at", output_field=LuigiTimestampField())).filter(
            status__in=NOT_DONE, heartbeat_at__gte=since, started_noindex__gte=since
        )

    def _of_crawls_noindex(self, crawls: Sequence[str]) -> RunQuerySet:
        """Runs of these crawls, as `crawl_key`: on SQLite neither the filter nor a GROUP BY on it uses an index."""
        return self.annotate(crawl_key=NoIndex("crawl", output_field=CharField())).filter(crawl_key__in=crawls)

    def recent_failures(self, since: datetime, n: int) -> list[Any]:
        failed = self.filter(status__in=BAD, heartbeat_at__gte=since, started_at__gte=since)
        return list(failed.listing().newest_first()[:n])

    def failures_of_crawl(self, crawl: str, since: datetime, n: int) -> list[Any]:
        return list(self.filter(crawl=crawl, status__in=BAD, started_at__gte=since).listing().newest_first()[:n])

    def stores_of_crawl(self, crawl: str, n: int) -> list[Any]:
        """The newest runs of the last stage, with their stats (items stored)."""
        return list(self.filter(crawl=crawl, family=LAST_STAGE).newest_first().only(*TICK_FIELDS, "stats")[:n])

    # -- per family ---------------------------------------------------------------

    def family_windows(self, families: Sequence[str], since: datetime, n: int) -> list[tuple[Any, ...]]:
        """(family, status, started_at, seconds) of the newest `n` runs of each family since `since`."""
        members = [
            self.filter(family=fam, started_at__gte=since)
            .newest_first()
            .values_list("family", "status", "started_at", Seconds("started_at", "finished_at"))[:n]
            for fam in families
        ]
        rows = union_all_values(members)
        field, connection = self.model._meta.get_field("started_at"), connections[self.db]
        # Raw driver values: MySQL's seconds are Decimal, SQLite's times may be text.
        return [
            (fam, status, field.from_db_value(ts, None, connection), None if secs is None else float(secs))
            for fam, status, ts, secs in rows
        ]

    def family_window_stats(self, families: Sequence[str], since: datetime, n: int) -> list[FamilyWindow]:
        """The newest `n` runs of each family since `since`, summed up per family. Queries: 1.

        At a million runs that is 50,000 runs for 50 families. PostgreSQL
        sums them up itself (_family_window_stats_in_db: 50 rows come back);
        SQLite and MySQL send the runs, lean (_family_window_stats_in_python).
        Both give the same figures: counts per status, the newest start and
        the oldest in the window, and p50/p95 by nearest rank.
        """
        if not families:
            return []
        if connections[self.db].vendor == "postgresql":
            return self._family_window_stats_in_db(families, since, n)
        return self._family_window_stats_in_python(families, since, n)

    def _family_window_stats_in_db(self, families: Sequence[str], since: datetime, n: int) -> list[FamilyWindow]:
        """PostgreSQL: one aggregate row per family over its window (an index-only range of the covering index).

        Counts by FILTER; both percentiles from one sort by percentile_disc
        over an array of fractions, which is nearest rank (the first value
        whose cumulative share reaches p); an unfinished run's duration is
        NULL and ordered-set aggregates skip NULLs. Summing up in the
        database instead of sending 50,000 rows: 78 -> 37 ms at a million
        runs (docs/webmon.md, "Query design").
        """
        assert all(s.isalpha() for s in STATUSES)  # inlined as literals below
        finished = ", ".join(f"'{s}'" for s in FINISHED)
        counts = ", ".join(f"COUNT(*) FILTER (WHERE w.status = '{s}')" for s in STATUSES)
        wrap = (
            f"SELECT {{i}} AS member, COUNT(*) AS runs, {counts}, MAX(w.started_at), MIN(w.started_at),"
            f" percentile_disc(ARRAY[0.5, 0.95]::float8[]) WITHIN GROUP"
            f" (ORDER BY CASE WHEN w.status IN ({finished}) THEN w.finished_at - w.started_at END)"
            f" FROM ({{sql}}) w"
        )

        def member(_: int, fam: str) -> list[RunQuerySet]:
            window = self.filter(family=fam, started_at__gte=since).order_by("-started_at")
            return [window.values_list("status", "started_at", "finished_at")[:n]]

        field, connection = self.model._meta.get_field("started_at"), connections[self.db]
        windows = []
        for i, runs, *per_status, newest, oldest, pcts in union_all_values_per_key(member, families, wrap):
            statuses = {s: k for s, k in zip(STATUSES, per_status, strict=True) if k}
            if runs - sum(per_status):
                statuses["other"] = runs - sum(per_status)
            p50, p95 = (None, None) if pcts is None else (None if d is None else d.total_seconds() for d in pcts)
            windows.append(
                (
                    i,
                    FamilyWindow(
                        families[i],
                        statuses,
                        p50,
                        p95,
                        *(None if ts is None else field.from_db_value(ts, None, connection) for ts in (newest, oldest)),
                    ),
                )
            )
        return [w for _, w in sorted(windows, key=lambda pair: pair[0])]

    def _family_window_stats_in_python(self, families: Sequence[str], since: datetime, n: int) -> list[FamilyWindow]:
        """SQLite and MySQL: the runs of every window, lean, summed up here.

        A driver spends more on a row's values than the database spends
        finding it. So a run's row is three numbers (family's member number,
        status code, seconds), and each family adds one row of bounds read
        from the (family, started_at) index alone: its newest start, the
        n-th newest, and the oldest in the period. Ordered by start alone:
        runs of the window's edge instant are interchangeable, and the index
        on (family, started_at, status, finished_at) then serves the rows
        without reading the table.
        """
        code_of = {status: code for code, status in enumerate(STATUSES)}
        status_code = Case(
            *[When(status=status, then=Value(code)) for status, code in code_of.items()],
            default=Value(len(STATUSES)),
            output_field=IntegerField(),
        )
        # Typed NULLs: PostgreSQL types a bare NULL of a derived table as text.
        no_time = Cast(Value(None), output_field=LuigiTimestampField())

        def members(i: int, fam: str) -> list[RunQuerySet]:
            window = self.filter(family=fam, started_at__gte=since)
            starts = window.order_by("-started_at").values("started_at")
            runs = (
                window.order_by("-started_at")
                .annotate(member=Value(i), code=status_code, newest=no_time, nth=no_time, first=no_time)
                .values_list("member", "code", Seconds("started_at", "finished_at"), "newest", "nth", "first")[:n]
            )
            bounds = (  # one row (any row of the table will do as its FROM)
                self.order_by()
                .annotate(
                    member=Value(i),
                    code=Cast(Value(None), output_field=IntegerField()),
                    secs=Cast(Value(None), output_field=FloatField()),
                    newest=Subquery(starts[:1]),
                    nth=Subquery(starts[n - 1 : n]),
                    first=Subquery(window.order_by("started_at").values("started_at")[:1]),
                )
                .values_list("member", "code", "secs", "newest", "nth", "first")[:1]
            )
            return [runs, bounds]

        counts = [[0] * (len(STATUSES) + 1) for _ in families]
        seconds: list[list[float]] = [[] for _ in families]
        bounds: list[tuple[Any, Any]] = [(None, None)] * len(families)
        finished = frozenset(code_of[s] for s in FINISHED)
        with collector_paused():  # 50,000 row tuples, freed before the collector would walk the heap for them
            rows = union_all_values_per_key(members, families)
            for member, code, secs, newest, nth, first in rows:
                if code is None:  # the bounds row
                    bounds[member] = (newest, first if nth is None else nth)
                    continue
                counts[member][code] += 1
                if secs is not None and code in finished:
                    seconds[member].append(float(secs))  # MySQL's are Decimal
            del rows
        field, connection = self.model._meta.get_field("started_at"), connections[self.db]
        names = (*STATUSES, "other")
        return [
            FamilyWindow(
                fam,
                {names[code]: k for code, k in enumerate(counts[i]) if k},
                percentile(seconds[i], 50),
                percentile(seconds[i], 95),
                *(None if raw is None else field.from_db_value(raw, None, connection) for raw in bounds[i]),
            )
            for i, fam in enumerate(families)
        ]

    # -- ticks (ticks.py: tally_ticks) -------------------------------------------------

    def _lean_runs_of(self, family_of: dict[str, str]) -> list[LeanRun]:
        """The runs of these task_ids (task_id -> family) with the columns the tick rules read.

        (id, task_id, status, started_at) are all in ix_crawl_runs_task_status, so no row of the
        table is read; the family is the one whose task_id was computed.
        """
        rows = self.filter(task_id__in=list(family_of)).values_list("id", "task_id", "status", "started_at")
        return [LeanRun(i, task_id, family_of[task_id], status, started) for i, task_id, status, started in rows]

    def done_ends_by_crawl(self, crawls: Sequence[str], since: datetime, until: datetime) -> dict[str, int]:
        """Done last-stage runs (StoreItems, one-task crawls) per crawl started since `since`: the clean done ticks."""
        if not crawls:
            return {}
        done = self.filter(crawl__in=crawls, family__in=ENDS, status=DONE, started_at__gte=since, started_at__lt=until)
        return dict(done.order_by().values_list("crawl").annotate(n=Count("*")))

    def done_ends_in_ranges(self, crawl: str, bounds: Sequence[tuple[datetime, datetime]]) -> list[int]:
        """Done last-stage runs of a crawl started in each (lo, hi) range: one count per range, one query."""
        return counts_in_ranges(self.filter(crawl=crawl, family__in=ENDS, status=DONE), "started_at", bounds)

    def unclean_ticks(self, crawls: Sequence[str], since: datetime, until: datetime) -> dict[str, list[Tick]]:
        """Per crawl, every tick with a run started in [since, until) that is not done, with all its runs. Queries: 2.

        The runs that are not done (a few percent) come through
        ix_crawl_runs_crawl_status_family (crawl, status, family, started_at),
        a range per crawl, status and family that holds only them; their
        ticks' runs, lean (LeanRun: no finish or heartbeat), from
        ix_crawl_runs_task_status (task_id, started_at, status, id) alone,
        the task_ids computed (ticks.tick_task_ids). At most
        MAX_UNCLEAN_TICKS ticks.
        """
        if not crawls:
            return {}
        rest = self.filter(
            crawl__in=crawls, family__in=(*TICK_FAMILIES, *ONE_TASK_CRAWLS), status__in=NOT_DONE,
            started_at__gte=since, started_at__lt=until,
        ).values_list("crawl", "task_id", "family")[: 4 * MAX_UNCLEAN_TICKS]
        crawl_of: dict[str, str] = {}
        for crawl, task_id, family in rest:
            key = tick_key(family, task_id)
            if key is not None and len(crawl_of) < MAX_UNCLEAN_TICKS:
                crawl_of.setdefault(key, crawl)
        if not crawl_of:
            return {}
        family_of = {task_id: family for key in crawl_of for task_id, family in tick_tasks(key).items()}
        by_crawl: dict[str, list[Tick]] = {}
        with collector_paused():
            for key, tick in ticks_of(self._lean_runs_of(family_of)).items():
                if key in crawl_of:
                    by_crawl.setdefault(crawl_of[key], []).append(tick)
        return by_crawl

    def tick_counts_by_crawl(self, crawls: Sequence[str], since: datetime, until: datetime) -> dict[str, dict[str, int]]:
        """Ticks per crawl and status (done, failed, running) in [since, until). Queries: 3."""
        done = self.done_ends_by_crawl(crawls, since, until)
        unclean = self.unclean_ticks(crawls, since, until)
        bounds = [(since, until)]
        return {crawl: tally_ticks([done.get(crawl, 0)], unclean.get(crawl, []), bounds)[0] for crawl in crawls}

    def tick_counts_in_ranges(self, crawl: str, bounds: Sequence[tuple[datetime, datetime]]) -> list[dict[str, int]]:
        """Ticks of a crawl per (lo, hi) range of `bounds` (contiguous, in order) and status. Queries: 3."""
        if not bounds:
            return []
        done = self.done_ends_in_ranges(crawl, bounds)
        unclean = self.unclean_ticks([crawl], bounds[0][0], bounds[-1][1]).get(crawl, [])
        return tally_ticks(done, unclean, bounds)

    def newest_ticks(self, crawl: str, n: int) -> list[Tick]:
        """About the newest `n` + 20 ticks of a crawl, whole, ordered by their newest deciding run. Queries: 2.

        A tick ends with a done last stage or a failed (killed) run: the
        newest such runs (the (crawl, started_at) index, newest first,
        DECIDING_RUNS x n at a time) name the ticks, however many attempts
        each took; then every run of those ticks is read by task_id. Only
        when those runs name fewer ticks (more than 8 failed attempts a tick)
        is the next stretch read, at most DECIDING_ROUNDS in all. Running
        ticks are among them; the caller keeps the finished ones.
        """
        enders = self.filter(crawl=crawl).filter(Q(family__in=DECIDERS) | Q(status__in=BAD))
        wanted, limit = n + 20, DECIDING_RUNS * n
        keys: dict[str, None] = {}
        cursor = None
        for _ in range(DECIDING_ROUNDS):
            stretch = enders.older_than(cursor) if cursor is not None else enders
            rows = list(stretch.newest_first().values_list("task_id", "family", "started_at", "id")[:limit])
            for task_id, family, _started, _id in rows:
                key = tick_key(family, task_id)
                if key is not None:
                    keys.setdefault(key)
            if len(keys) >= wanted or len(rows) < limit:
                break
            cursor = Cursor(rows[-1][2], rows[-1][3])
        chosen = list(keys)[:wanted]
        if not chosen:
            return []
        ids = [task_id for key in chosen for task_id in tick_task_ids(key)]
        # Row tuples, no model instances: the trend reads a tick's status, start, duration and newest run's id.
        rows = self.filter(task_id__in=ids).values_list(*TREND_FIELDS)
        ticks = ticks_of(LeanRun(*row) for row in rows)
        return [ticks[key] for key in chosen if key in ticks]

    def tick_page(self, f: RunFilter, *, before: Cursor | None, size: int, window: int) -> TickPage:
        """A page of `size` ticks, newest first by their newest run, keyset on that run. Queries: 2 (3 with a scan).

        Reads a page of 4 x size runs of the tick families (the runs list's
        page(), its filters and scan window), groups them by tick, and reads
        every run of the first `size` ticks by task_id; a tick whose newest
        run is at or past `before` was listed on an earlier page.
        """
        tick_families = (*TICK_FAMILIES, *ONE_TASK_CRAWLS)
        # NoIndex: the page's order is (crawl, started_at)'s or (started_at)'s; SQLite would sort a
        # (crawl, family, ...) range instead.
        of_ticks = self.alias(family_noindex=NoIndex("family", output_field=CharField())).filter(
            family_noindex__in=tick_families
        )
        runs = of_ticks.page(f, before=before, size=4 * size, window=window)
        heads: dict[str, Any] = {}
        for run in runs.runs:
            key = tick_key(run.family, run.task_id)
            if key is not None:
                heads.setdefault(key, run)
        keys = list(heads)
        if not keys:
            return TickPage([], {}, runs.older, runs.scanned_to)
        ids = [task_id for key in keys for task_id in tick_task_ids(key)]
        whole = ticks_of(self.filter(task_id__in=ids).only(*LIST_FIELDS))
        ticks = [whole[key] for key in keys if key in whole]
        if before is not None:
            ticks = [t for t in ticks if (t.newest.started_at, t.newest.id) < (before.started_at, before.id)]
        ticks.sort(key=lambda t: (t.newest.started_at, t.newest.id), reverse=True)
        older = runs.older
        if len(ticks) > size:
            ticks = ticks[:size]
            older = Cursor.of(ticks[-1].newest)
        return TickPage(ticks, heads, older, runs.scanned_to)

    # -- one run ------------------------------------------------------------------

    def with_log_count(self) -> RunQuerySet:
        """Each run's newest log line number as `last_log_seq` (CrawlRun.log_count), in the same query.

        The worker writes `log_lines` when the run ends; until then (and for a run the sweep marked
        killed) the lines are counted by the newest seq: one step into the unique (run_id, seq) index.
        """
        logs = self.model._meta.get_field("log_rows").related_model
        newest = logs.objects.filter(run_id=OuterRef("pk")).order_by("-seq").values("seq")[:1]
        return self.annotate(last_log_seq=Subquery(newest))

    def tick_attempts(self, run: Any, n: int) -> list[Any]:
        """Every attempt of every task of the run's tick (or of its task alone), newest first."""
        ids = tick_task_ids(run.tick_key) if run.tick_key else [run.task_id]
        return list(self.filter(task_id__in=ids).newest_first().only(*TICK_FIELDS, "attempt", "host")[:n])


class LogQuerySet(ReadOnlyQuerySet):
    def viewer(
        self, run_id: int, *, after: int, limit: int, head: int, levels: Sequence[str] | None = None, q: str = ""
    ) -> list[Any]:
        """Up to `limit` lines after line `after`, messages cut to `head` characters.

        One query through the (run_id, seq) index; `message_length` tells
        whether a line was cut.
        """
        qs = self.filter(run_id=run_id, seq__gt=after)
        if levels:
            qs = qs.filter(level__in=levels)
        if q:
            qs = qs.filter(message__icontains=q)
        qs = qs.defer("message").annotate(head=Substr("message", 1, head), message_length=Length("message"))
        return list(qs.order_by("seq")[:limit])

    def line(self, run_id: int, seq: int) -> str | None:
        return self.filter(run_id=run_id, seq=seq).values_list("message", flat=True).first()

    def text(self, run_id: int, chunk: int = 200) -> Iterator[str]:
        """Every line of a run's log as text, read `chunk` lines per query."""
        after = 0
        while True:
            rows = list(
                self.filter(run_id=run_id, seq__gt=after)
                .order_by("seq")
                .values_list("seq", "ts", "level", "logger", "message")[:chunk]
            )
            for seq, ts, level, logger, message in rows:
                yield f"{ts:%Y-%m-%d %H:%M:%S.%f}Z {seq} {level} {logger}: {message}\n"
            if len(rows) < chunk:
                return
            after = rows[-1][0]
