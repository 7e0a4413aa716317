"""What the pages show, computed from rows already read: pure functions, clock passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, pgettext

from webmon.history.queries import percentile
from webmon.history.runs import STALE, json_object
from webmon.history.ticks import BAD, CHAIN, DONE, FAILED, FINISHED, LAST_STAGE, RUNNING, WRAPPER, Tick, group_ticks
from webmon.monitor.charts import Spark, sparkline
from webmon.monitor.templatetags.monitor import human

SPARK_TICKS = 20


def success_rate(counts: dict[str, int]) -> float | None:
    """done / finished (done + failed) ticks, or None when nothing finished."""
    done = counts.get(DONE, 0)
    finished = done + sum(counts.get(s, 0) for s in BAD)
    return done / finished if finished else None


@dataclass
class CrawlRow:
    """A row of the overview: one crawl."""

    name: str
    last: Any | None  # the newest run record
    last_status: str
    last_success: Any | None
    rate: float | None
    finished: int  # finished ticks behind the rate
    spark: Spark | None
    spark_title: str = ""  # the sparkline's hover text: its figures
    next_run: datetime | None = None  # the earliest next tick of its schedules (trouble.attach_schedules)
    schedules: Any | None = None  # trouble.CrawlSchedules: its RunCrawl schedules, None when it has none
    group: str = ""  # trouble.GROUPS: where the overview puts it (down first)
    # The newest tick's StoreItems and RunCrawl runs when that tick is done: their stats may carry warnings.
    done_runs: tuple[int, ...] = ()


def tick_durations(ticks: Sequence[Tick], now: datetime, n: int) -> list[tuple[Tick, float]]:
    """(tick, seconds) of the newest `n` finished ticks, oldest first."""
    finished = [t for t in ticks if t.status != RUNNING][:n]
    return [(t, t.duration(now).total_seconds()) for t in reversed(finished)]


def crawl_rows(
    names: Sequence[str],
    newest: Sequence[Any],
    successes: dict[str, Any],
    counts: dict[str, dict[str, int]],
    now: datetime,
    stale_after: timedelta,
) -> list[CrawlRow]:
    by_crawl: dict[str, list[Any]] = {}
    for run in newest:
        by_crawl.setdefault(run.crawl, []).append(run)
    rows = []
    for name in names:
        runs = sorted(by_crawl.get(name, []), key=lambda r: (r.started_at, r.id), reverse=True)
        last = runs[0] if runs else None
        ticks = group_ticks(runs)
        status = ticks[0].status if ticks else (last.status if last else "")
        if last is not None and status == RUNNING and last.display_status(now, stale_after) == STALE:
            status = STALE
        if ticks:
            values = [secs for _, secs in tick_durations(ticks, now, SPARK_TICKS)]
        else:  # families outside the crawl chain: one point per run
            values = [r.duration(now).total_seconds() for r in reversed(runs[:SPARK_TICKS]) if r.status in FINISHED]
        crawl_counts = counts.get(name, {})
        done_runs = ()
        if ticks and status == DONE:
            done_runs = tuple(r.id for f, r in ticks[0].latest.items() if f in (LAST_STAGE, WRAPPER))
        rows.append(
            CrawlRow(
                name=name,
                last=last,
                last_status=status,
                last_success=successes.get(name),
                rate=success_rate(crawl_counts),
                finished=sum(crawl_counts.get(s, 0) for s in FINISHED),
                spark=sparkline(values),
                spark_title=spark_title(values),
                done_runs=done_runs,
            )
        )
    return rows


def spark_title(values: Sequence[float]) -> str:
    """The sparkline's hover text: how many durations it draws, the newest, the shortest and the longest."""
    if not values:
        return ""
    return ngettext(
        "the last %(n)s tick: %(last)s",
        "the last %(n)s ticks: newest %(last)s, shortest %(low)s, longest %(high)s",
        len(values),
    ) % {"n": len(values), "last": human(values[-1]), "low": human(min(values)), "high": human(max(values))}


WARNED = "warned"  # the overview's status of a crawl whose newest tick is done with data-quality warnings


def mark_warned(rows: Sequence[CrawlRow], warned: set[int]) -> None:
    """A done newest tick whose StoreItems or RunCrawl run has warnings in its stats shows as warned."""
    for row in rows:
        if row.last_status == DONE and warned.intersection(row.done_runs):
            row.last_status = WARNED


# The calendar's shades: the share of a day's finished ticks that failed (ticks.tally_ticks), up to each.
DAY_SHADES = ((0.0, "day-ok"), (0.25, "day-few"), (0.5, "day-some"))


def day_css(counts: dict[str, int]) -> str:
    """The calendar class of a day from its ticks per status: none failed, up to 25 %, up to 50 %, more, all."""
    done, failed = counts.get(DONE, 0), counts.get(FAILED, 0)
    if not done + failed:
        return "day-running" if counts.get(RUNNING) else "day-none"
    if not done:
        return "day-failed"
    share = failed / (done + failed)
    return next((css for top, css in DAY_SHADES if share <= top), "day-most")


def day_title(day: str, counts: dict[str, int]) -> str:
    """'2026-12-01: 24 ticks, 23 done, 1 failed' (running when some run)."""
    total = sum(counts.values())
    if not total:
        return _("%(day)s: no ticks") % {"day": day}
    parts = [ngettext("%(n)s tick", "%(n)s ticks", total) % {"n": f"{total:,}"}]
    parts += [
        _("%(n)s %(status)s") % {"n": f"{counts[s]:,}", "status": _status_word(s)}
        for s in (DONE, FAILED, RUNNING)
        if counts.get(s)
    ]
    return _("%(day)s: %(counts)s") % {"day": day, "counts": _(", ").join(parts)}


def _status_word(status: str) -> str:
    from webmon.monitor.templatetags.monitor import status_label  # noqa: PLC0415 - as before: a page module, imported late

    return status_label(status)


def local_days(now: datetime, days: int, zone: tzinfo) -> list[tuple[date, datetime, datetime]]:
    """The last `days` days up to `now`'s in `zone`: (day, start, end), start and end aware."""
    today = now.astimezone(zone).date()
    out = []
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime.combine(day, time.min).replace(tzinfo=zone)
        end = datetime.combine(day + timedelta(days=1), time.min).replace(tzinfo=zone)
        out.append((day, start, end))
    return out


def calendar_days(days: Sequence[tuple[str, dict[str, int]]]) -> dict[str, tuple[str, str]]:
    """'YYYY-MM-DD' -> (css class, title) for the calendar, from ticks per day and status."""
    return {day: (day_css(counts), day_title(day, counts)) for day, counts in days}


@dataclass
class FamilyRow:
    """A row of the families page: one task family over its window."""

    family: str
    runs: int = 0
    failed: int = 0
    running: int = 0
    p50: timedelta | None = None
    p95: timedelta | None = None
    newest: datetime | None = None
    oldest: datetime | None = None
    capped: bool = False  # the window is the last N runs, not the whole period


def family_rows(
    families: Sequence[str], rows: Sequence[tuple[str, str, datetime, float | None]], cap: int
) -> list[FamilyRow]:
    """Rows of (family, status, started_at, seconds) summed up per family."""
    stats = {family: FamilyRow(family) for family in families}
    seconds: dict[str, list[float]] = {family: [] for family in families}
    for family, status, started_at, secs in rows:
        row = stats.get(family)
        if row is None:
            continue
        row.runs += 1
        row.failed += status in BAD
        row.running += status == RUNNING
        row.newest = max(filter(None, (row.newest, started_at)), default=None)
        row.oldest = min(filter(None, (row.oldest, started_at)), default=None)
        if status in FINISHED and secs is not None:
            seconds[family].append(float(secs))
    for family, row in stats.items():
        row.capped = row.runs >= cap
        for name, p in (("p50", 50), ("p95", 95)):
            value = percentile(seconds[family], p)
            setattr(row, name, timedelta(seconds=value) if value is not None else None)
    return list(stats.values())


def family_window_rows(windows: Sequence[Any], cap: int) -> list[FamilyRow]:
    """family_rows() from windows already summed up by the database query (RunQuerySet.family_window_stats)."""
    rows = []
    for window in windows:
        p50, p95 = window.p50, window.p95
        rows.append(
            FamilyRow(
                family=window.family,
                runs=window.runs,
                failed=sum(window.statuses.get(s, 0) for s in BAD),
                running=window.statuses.get(RUNNING, 0),
                p50=None if p50 is None else timedelta(seconds=p50),
                p95=None if p95 is None else timedelta(seconds=p95),
                newest=window.newest,
                oldest=window.oldest,
                capped=window.runs >= cap,
            )
        )
    return rows


@dataclass
class StoreRow:
    run: Any
    items: int | None
    new: int | None
    changed: int | None
    quality: Quality | None = None


def store_rows(runs: Sequence[Any]) -> list[StoreRow]:
    """Items stored by each run of the last stage, from its stats (absent counts are None), with its quality."""
    rows = []
    for run in runs:
        stats = json_object(run.stats)
        counts = [stats.get(key) for key in ("items", "new", "changed")]
        rows.append(StoreRow(run, *[c if isinstance(c, int) and not isinstance(c, bool) else None for c in counts],
                             quality=quality_of(stats)))
    return rows


@dataclass
class FamilyLine:
    """A row of the families page: a family in Luigi's tasks, and its run records where they exist."""

    family: str
    luigi: Any | None  # FamilyTasks: capped count, newest task and its latest event
    runs: FamilyRow | None
    task_cap: int

    @property
    def tasks_capped(self) -> bool:
        return self.luigi is not None and self.luigi.tasks >= self.task_cap


def family_lines(
    names: Sequence[str], luigi: Sequence[Any], windows: Sequence[Any], run_cap: int, task_cap: int
) -> list[FamilyLine]:
    """One line per family name, Luigi's figures and the run records' side by side (either may be missing)."""
    by_luigi = {f.family: f for f in luigi}
    by_runs = {row.family: row for row in family_window_rows(windows, run_cap)}
    return [FamilyLine(name, by_luigi.get(name), by_runs.get(name), task_cap) for name in names]


# -- data quality (pipelines/quality.py: the `quality` report in a StoreItems run's stats) ------------


@dataclass
class QualityCheck:
    """One monitor of the spec applied to a tick."""

    monitor: str
    value: float | None
    limit: float
    ok: bool

    @property
    def is_ratio(self) -> bool:
        return self.monitor != "min_items"


@dataclass
class CoverageLine:
    field: str
    ratio: float | None
    check: QualityCheck | None  # the field's coverage monitor, when the spec has one


@dataclass
class Quality:
    """A tick's data-quality report, as the run page and the crawl page show it."""

    verdict: str  # ok, warn, fail
    items: int
    baseline: dict[str, Any] | None
    coverage: list[CoverageLine]
    checks: list[QualityCheck]  # every monitor but the coverage ones
    schema: dict[str, Any] | None
    violations: list[str]

    @property
    def warned(self) -> bool:
        return self.verdict == "warn"

    @property
    def failed(self) -> bool:
        return self.verdict == "fail"

    @property
    def verdict_text(self) -> str:
        """The verdict in the active language (an unknown code as it is)."""
        texts = {"ok": _("every monitor held"), "warn": _("done with warnings"), "fail": pgettext("run status", "failed")}
        return texts.get(self.verdict, self.verdict)


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def quality_of(stats: dict[str, Any]) -> Quality | None:
    """The `quality` report in a run's stats, or None (another stage, or a run from before reports)."""
    report = stats.get("quality")
    if not isinstance(report, dict) or "coverage" not in report:
        return None
    checks = []
    for raw in report.get("monitors") or []:
        if isinstance(raw, dict) and isinstance(raw.get("monitor"), str) and _number(raw.get("limit")) is not None:
            checks.append(QualityCheck(raw["monitor"], _number(raw.get("value")), float(raw["limit"]),
                                       bool(raw.get("ok"))))
    by_field = {c.monitor.removeprefix("coverage."): c for c in checks if c.monitor.startswith("coverage.")}
    coverage = [CoverageLine(str(name), _number(ratio), by_field.get(str(name)))
                for name, ratio in (report.get("coverage") or {}).items()]
    baseline = report.get("baseline") if isinstance(report.get("baseline"), dict) else None
    schema = report.get("schema") if isinstance(report.get("schema"), dict) else None
    items = report.get("items")
    return Quality(
        verdict=str(report.get("verdict") or "ok"),
        items=items if isinstance(items, int) else 0,
        baseline=baseline,
        coverage=coverage,
        checks=[c for c in checks if not c.monitor.startswith("coverage.")],
        schema=schema,
        violations=[str(v) for v in report.get("violations") or []],
    )


def has_warnings(stats_text: str | None) -> bool:
    """Whether a run's stats carry `warnings` (a tick done with warnings: pipelines/tasks.py)."""
    return bool(json_object(stats_text).get("warnings"))


# -- the runs list grouped by tick ------------------------------------------------------------------


@dataclass
class TickRow:
    """A row of the runs list grouped by tick: one tick, its stages and every attempt of each."""

    tick: Tick
    crawl: str | None
    at: datetime | None  # the logical time (the runs' `at` parameter)
    status: str
    duration: timedelta
    stages: list[tuple[str, list[Any]]]  # (family, its attempts oldest first), in the chain's order

    @property
    def attempts(self) -> int:
        return len(self.tick.runs)


STAGE_ORDER = (*CHAIN, WRAPPER)


def tick_rows(ticks: Sequence[Tick], heads: dict[str, Any], now: datetime, stale_after: timedelta) -> list[TickRow]:
    rows = []
    for tick in ticks:
        head = heads.get(tick.key) or tick.newest
        by_family: dict[str, list[Any]] = {}
        for run in sorted(tick.runs, key=lambda r: (r.started_at, r.id)):
            by_family.setdefault(run.family, []).append(run)
        order = {family: i for i, family in enumerate(STAGE_ORDER)}
        stages = sorted(by_family.items(), key=lambda item: order.get(item[0], -1))
        status = tick.status
        if status == RUNNING and all(
            r.display_status(now, stale_after) == STALE for r in tick.runs if r.status == RUNNING
        ):
            status = STALE
        rows.append(TickRow(tick, head.crawl, head.logical_time, status, tick.duration(now), stages))
    return rows
