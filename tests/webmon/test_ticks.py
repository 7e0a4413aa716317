"""Crawl ticks: which runs belong together, and the status of a tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from history_seed import tick_task_id

from webmon.history.ticks import (
    chain_stages,
    group_ticks,
    latest_per_family,
    logical_time,
    range_finder,
    range_of,
    tally_ticks,
    tick_key,
    tick_status,
    tick_task_ids,
    ticks_of,
)

AT = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)


@dataclass
class Run:
    id: int
    family: str
    status: str = "done"
    minutes: int = 0
    crawl: str = "demo"
    task_id: str = ""
    finished_at: datetime | None = None

    def __post_init__(self) -> None:
        self.task_id = self.task_id or tick_task_id(self.family, self.crawl, AT)
        self.started_at = AT + timedelta(minutes=self.minutes)
        self.heartbeat_at = self.started_at
        if self.status != "running" and self.finished_at is None:
            self.finished_at = self.started_at + timedelta(seconds=30)


def test_the_tasks_of_a_tick_share_the_tail_of_their_task_id() -> None:
    key = tick_key("FetchPages", tick_task_id("FetchPages", "demo", AT))
    assert key == tick_task_id("StoreItems", "demo", AT).removeprefix("StoreItems_")
    assert tick_task_ids(key) == [
        tick_task_id(f, "demo", AT) for f in ("FetchPages", "ParsePages", "StoreItems", "RunCrawl")
    ]


def test_families_outside_the_chain_have_no_tick() -> None:
    assert tick_key("Touch", "Touch_x_123") is None
    assert tick_key("FetchPages", "Other_demo_123") is None


def test_the_latest_attempt_of_each_family_wins() -> None:
    runs = [Run(1, "FetchPages", "failed"), Run(2, "FetchPages", "done", minutes=5), Run(3, "ParsePages")]
    assert {f: r.id for f, r in latest_per_family(runs).items()} == {"FetchPages": 2, "ParsePages": 3}


def test_a_tick_is_done_when_stored_failed_when_a_latest_attempt_failed() -> None:
    def status(*runs: Run) -> str:
        return tick_status(latest_per_family(runs))

    assert status(Run(1, "FetchPages"), Run(2, "ParsePages"), Run(3, "StoreItems")) == "done"
    assert status(Run(1, "FetchPages"), Run(2, "ParsePages", "failed")) == "failed"
    assert status(Run(1, "FetchPages", "failed"), Run(2, "FetchPages", minutes=1)) == "incomplete"
    assert status(Run(1, "FetchPages"), Run(2, "ParsePages", "running")) == "running"
    assert status(Run(1, "RunCrawl")) == "done"


def test_runs_group_into_ticks_newest_first() -> None:
    other = tick_task_id("FetchPages", "demo", AT + timedelta(hours=1))
    runs = [
        Run(1, "FetchPages"),
        Run(2, "ParsePages", minutes=1),
        Run(3, "FetchPages", minutes=60, task_id=other),
        Run(4, "Touch", task_id="Touch_1"),
    ]
    ticks = group_ticks(runs)
    assert [[r.id for r in t.runs] for t in ticks] == [[3], [1, 2]]
    assert ticks[1].duration(AT).total_seconds() == 90


def test_the_chain_names_the_stages_that_never_ran() -> None:
    stages = chain_stages(latest_per_family([Run(1, "FetchPages", "failed")]))
    assert [(s.family, s.status) for s in stages] == [
        ("FetchPages", "failed"),
        ("ParsePages", "not-run"),
        ("StoreItems", "not-run"),
    ]


# -- the tick rules as a table: the runs of a tick in the order they ran -> its status -------------------

F, P, S, W = "FetchPages", "ParsePages", "StoreItems", "RunCrawl"
TICK_RULES = [
    ("all stages done", [(F, "done"), (P, "done"), (S, "done"), (W, "done")], "done"),
    ("fetch failed, retried done, then parse and store done", [(F, "failed"), (F, "done"), (P, "done"), (S, "done")],
     "done"),
    ("fetch failed twice, then every stage done", [(F, "failed"), (F, "killed"), (F, "done"), (P, "done"),
                                                    (S, "done"), (W, "done")], "done"),
    ("store failed", [(F, "done"), (P, "done"), (S, "failed")], "failed"),
    ("parse failed and never retried", [(F, "done"), (P, "failed")], "failed"),
    ("killed by the sweep", [(F, "killed")], "failed"),
    ("fetch failed, its retry runs", [(F, "failed"), (F, "running")], "running"),
    ("store failed, its retry runs", [(F, "done"), (P, "done"), (S, "failed"), (S, "running")], "running"),
    ("stored, then the wrapper failed its data quality", [(F, "done"), (P, "done"), (S, "done"), (W, "failed")],
     "failed"),
    ("wrapper failed its data quality, rerun done", [(S, "done"), (W, "failed"), (W, "done")], "done"),
    ("a spider's one task", [("ScrapySpider", "done")], "done"),
    ("a script's one task failed", [("PythonScript", "failed")], "failed"),
    ("fetched only", [(F, "done")], "incomplete"),
]


@pytest.mark.parametrize(("runs", "status"), [(r, s) for _, r, s in TICK_RULES], ids=[n for n, _, _ in TICK_RULES])
def test_the_status_of_a_tick_from_its_attempts(runs: list[tuple[str, str]], status: str) -> None:
    seen = [Run(i + 1, family, st, minutes=i, task_id=_task_id(family)) for i, (family, st) in enumerate(runs)]
    ticks = ticks_of(seen)
    assert len(ticks) == 1
    assert next(iter(ticks.values())).status == status


def _task_id(family: str) -> str:
    if family in ("ScrapySpider", "PythonScript"):
        return f"{family}_demo_2026_03_01T0730_abc"
    return tick_task_id(family, "demo", AT)


DAY = [(AT.replace(hour=0, minute=0), AT.replace(hour=0, minute=0) + timedelta(days=1))]


def test_a_tick_retried_until_done_counts_once_as_done() -> None:
    runs = [Run(1, F, "failed"), Run(2, F, minutes=1), Run(3, P, minutes=2), Run(4, S, minutes=3),
            Run(5, W, minutes=4)]
    # The done StoreItems run was counted among the clean done ticks (done_ends) and is taken back.
    assert tally_ticks([1], list(ticks_of(runs).values()), DAY) == [{"done": 1}]


def test_a_day_with_one_failed_tick_of_four() -> None:
    failed = ticks_of([Run(1, F, minutes=60, task_id=tick_task_id(F, "demo", AT + timedelta(hours=1))),
                       Run(2, P, "failed", minutes=61, task_id=tick_task_id(P, "demo", AT + timedelta(hours=1)))])
    assert tally_ticks([3], list(failed.values()), DAY) == [{"done": 3, "failed": 1}]


def test_a_tick_counts_on_the_day_of_its_deciding_run() -> None:
    days = [DAY[0], (DAY[0][1], DAY[0][1] + timedelta(days=1))]
    # Failed today, retried and done tomorrow: one done tick, tomorrow.
    runs = [Run(1, S, "failed"), Run(2, S, minutes=24 * 60)]
    assert tally_ticks([0, 1], list(ticks_of(runs).values()), days) == [{}, {"done": 1}]
    # Failed today and not retried: a failed tick today; running ticks count as running.
    assert tally_ticks([0, 0], list(ticks_of([Run(1, S, "failed")]).values()), days) == [{"failed": 1}, {}]
    assert tally_ticks([0, 0], list(ticks_of([Run(1, F, "running")]).values()), days) == [{"running": 1}, {}]


def test_a_time_is_found_in_its_day_of_ninety_and_not_outside_them() -> None:
    days = [(AT + timedelta(days=k), AT + timedelta(days=k + 1)) for k in range(90)]
    find = range_finder(days)
    for when in (AT, AT + timedelta(days=41, hours=23, minutes=59), AT + timedelta(days=89, hours=12),
                 AT - timedelta(microseconds=1), AT + timedelta(days=90), AT + timedelta(days=400)):
        assert find(when) == range_of(when, days)
    assert find(AT + timedelta(days=41, hours=23)) == 41
    assert find(AT + timedelta(days=90)) is None
    # Ranges out of order or with gaps: still the range that holds the time, or None in a gap.
    gaps = [days[5], days[2], days[9]]
    assert [range_finder(gaps)(d[0]) for d in (days[2], days[5], days[9], days[3])] == [1, 0, 2, None]
    assert range_finder([days[2], days[9]])(days[4][0]) is None


def test_the_logical_time_is_the_at_parameter() -> None:
    assert logical_time('{"crawl": "demo", "at": "2026-11-21T0730", "overrides": "{}"}') == datetime(
        2026, 11, 21, 7, 30, tzinfo=UTC)
    assert logical_time('{"crawl": "demo", "at": "2026-11-21T07') is None  # cut short by the list's head
    assert logical_time('{"date": "2026-11-21"}') is None
    assert logical_time(None) is None
    assert logical_time('{"at": "2026-13-40T9999"}') is None
