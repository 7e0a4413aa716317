"""Crawl ticks: the run records of one RunCrawl(crawl, at), and their status.

A tick's tasks share their parameters, so Luigi gives their task_ids the same
tail after the family name (`FetchPages_demo_2026_11_21T0730_1a2b3c4d5e`, see
luigi.task.task_id_str): the tick's other task_ids are computed, not searched,
and found through the (task_id, started_at) index. Pure functions, no I/O.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

CHAIN = ("FetchPages", "ParsePages", "StoreItems")
WRAPPER = "RunCrawl"
TICK_FAMILIES = (*CHAIN, WRAPPER)
LAST_STAGE = CHAIN[-1]
# Crawlers that are one task per tick (pipelines/external/): the task is the tick, its
# task_id the tick's key, and its success the crawl's success.
ONE_TASK_CRAWLS = ("ScrapySpider", "PythonScript")
LAST_STAGES = (LAST_STAGE, *ONE_TASK_CRAWLS)

RUNNING, DONE, FAILED, KILLED = "running", "done", "failed", "killed"
STATUSES = (RUNNING, DONE, FAILED, KILLED)
FINISHED = (DONE, FAILED, KILLED)
BAD = (FAILED, KILLED)
NOT_DONE = (RUNNING, FAILED, KILLED)


class RunLike(Protocol):
    id: int
    task_id: str
    family: str
    status: str
    started_at: datetime
    finished_at: datetime | None
    heartbeat_at: datetime


def tick_key(family: str, task_id: str) -> str | None:
    """The task_id tail shared by a tick's tasks (a one-task crawl: its task_id), or None for other families."""
    if family in ONE_TASK_CRAWLS:
        return task_id
    prefix = f"{family}_"
    if family not in TICK_FAMILIES or not task_id.startswith(prefix):
        return None
    return task_id[len(prefix) :]


def tick_task_ids(key: str) -> list[str]:
    """The task_ids of every task of the tick whose key is `key`."""
    return list(tick_tasks(key))


def tick_tasks(key: str) -> dict[str, str]:
    """The family of each task_id of the tick whose key is `key`."""
    family = key.split("_", 1)[0]
    if family in ONE_TASK_CRAWLS:
        return {key: family}
    return {f"{family}_{key}": family for family in TICK_FAMILIES}


def latest_per_family(runs: Iterable[RunLike]) -> dict[str, RunLike]:
    """The latest attempt of each family among `runs`."""
    latest: dict[str, RunLike] = {}
    for run in runs:
        seen = latest.get(run.family)
        if seen is None or (run.started_at, run.id) > (seen.started_at, seen.id):
            latest[run.family] = run
    return latest


def end_of(run: RunLike, now: datetime) -> datetime:
    """When the run ended, or now while it runs (its last heartbeat if it stopped beating)."""
    if run.finished_at is not None:
        return run.finished_at
    return now if run.status == RUNNING else run.heartbeat_at


def tick_status(latest: dict[str, RunLike]) -> str:
    """failed if a stage's latest attempt failed, running if one runs, done when stored."""
    statuses = {run.status for run in latest.values()}
    if statuses & set(BAD):
        return FAILED
    if RUNNING in statuses:
        return RUNNING
    done = {family for family, run in latest.items() if run.status == DONE}
    if done & {*LAST_STAGES, WRAPPER}:
        return DONE
    return "incomplete"


@dataclass
class Tick:
    """One crawl tick seen through some of its run records."""

    key: str
    runs: list[RunLike] = field(default_factory=list)

    @property
    def latest(self) -> dict[str, RunLike]:
        return latest_per_family(self.runs)

    @property
    def status(self) -> str:
        return tick_status(self.latest)

    @property
    def started_at(self) -> datetime:
        return min(run.started_at for run in self.runs)

    def duration(self, now: datetime) -> timedelta:
        return max(end_of(run, now) for run in self.runs) - self.started_at

    @property
    def newest(self) -> RunLike:
        return max(self.runs, key=lambda run: (run.started_at, run.id))


def group_ticks(runs: Sequence[RunLike]) -> list[Tick]:
    """Run records grouped into ticks, newest tick first; other families are left out."""
    return sorted(ticks_of(runs).values(), key=lambda tick: tick.started_at, reverse=True)


@dataclass(frozen=True)
class Stage:
    """A box of the chain graph and a bar of its Gantt chart."""

    family: str
    run: RunLike | None

    @property
    def status(self) -> str:
        return self.run.status if self.run is not None else "not-run"


def chain_stages(latest: dict[str, RunLike]) -> list[Stage]:
    """fetch -> parse -> store, each with its latest attempt (None when it never ran)."""
    return [Stage(family, latest.get(family)) for family in CHAIN]


# -- ticks counted over a window (the overview's 7-day success, the crawl page's calendar) -----------

# The stages whose done run makes a tick done and that every done tick has one of: the chain's
# StoreItems, a one-task crawl's task. RunCrawl runs right after StoreItems (it requires it), so
# counting it too would count those ticks twice; a tick done by RunCrawl alone (a rerun after a
# data-quality failure) had a failed RunCrawl first and is counted among the unclean ticks below.
ENDS = (LAST_STAGE, *ONE_TASK_CRAWLS)
DECIDERS = (*ENDS, WRAPPER)


@dataclass(frozen=True)
class LeanRun:
    """The columns of a run the tick rules need (a row tuple, no model instance)."""

    id: int
    task_id: str
    family: str
    status: str
    started_at: datetime
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


def range_of(when: datetime, bounds: Sequence[tuple[datetime, datetime]]) -> int | None:
    """The index of the (lo, hi) range of `bounds` that holds `when`, or None."""
    return next((k for k, (lo, hi) in enumerate(bounds) if lo <= when < hi), None)


def range_finder(bounds: Sequence[tuple[datetime, datetime]]) -> Callable[[datetime], int | None]:
    """range_of for many `when`s: a binary search when the ranges are in order and do not overlap.

    The calendar looks up every run of its unclean ticks in 91 day ranges:
    going through the ranges each time was a fifth of the crawl page's time.
    """
    los = [lo for lo, _hi in bounds]
    ordered = all(bounds[k][1] <= bounds[k + 1][0] for k in range(len(bounds) - 1))
    if not ordered:
        return lambda when: range_of(when, bounds)

    def find(when: datetime) -> int | None:
        k = bisect_right(los, when) - 1
        return k if k >= 0 and when < bounds[k][1] else None

    return find


def tally_ticks(
    done_ends: Sequence[int], unclean: Sequence[Tick], bounds: Sequence[tuple[datetime, datetime]]
) -> list[dict[str, int]]:
    """Ticks per range of `bounds` and status (done, failed, running), for one crawl.

    `done_ends[k]`: the done ENDS runs started in range k (one per clean done tick: a tick
    none of whose runs in the window is failed, killed or running). `unclean`: every tick with
    such a run in the window, with all its runs; each was counted in `done_ends` for each of its
    done ENDS runs, which is taken back, and then counted by its own status: a done tick on the
    day its newest done last stage started, a failed or running one on the day of its newest run.
    An incomplete tick (stages done, no last stage, nothing running) is not counted.
    """
    counts = [{DONE: n} if n else {} for n in done_ends]
    in_range = range_finder(bounds)
    for tick in unclean:
        for run in tick.runs:
            if run.family in ENDS and run.status == DONE:
                k = in_range(run.started_at)
                if k is not None:
                    counts[k][DONE] = counts[k].get(DONE, 0) - 1
        status = tick.status
        if status == DONE:
            done = [r for r in tick.runs if r.family in DECIDERS and r.status == DONE]
            ends = [r for r in done if r.family in ENDS] or done
            when = max(r.started_at for r in ends)
        elif status in (FAILED, RUNNING):
            when = tick.newest.started_at
        else:
            continue
        k = in_range(when)
        if k is not None:
            counts[k][status] = counts[k].get(status, 0) + 1
    return [{s: n for s, n in c.items() if n > 0} for c in counts]


def ticks_of(runs: Iterable[RunLike]) -> dict[str, Tick]:
    """Runs grouped by tick key (other families left out)."""
    ticks: dict[str, Tick] = {}
    for run in runs:
        key = tick_key(run.family, run.task_id)
        if key is not None:
            ticks.setdefault(key, Tick(key)).runs.append(run)
    return ticks


# The logical time of a tick: the `at` parameter of its tasks (pipelines/tasks.py CrawlTick,
# serialized by luigi's MinuteParameter as 2026-11-21T0730).
_AT = re.compile(r'"at"\s*:\s*"(\d{4}-\d{2}-\d{2}T\d{4})"')


def logical_time(params: str | None) -> datetime | None:
    """The `at` of a run's parameters (JSON text, possibly cut short), or None."""
    match = _AT.search(params or "")
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), "%Y-%m-%dT%H%M").replace(tzinfo=UTC)
    except ValueError:
        return None
