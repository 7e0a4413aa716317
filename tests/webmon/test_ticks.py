"""Crawl ticks: which runs belong together, and the status of a tick."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from history_seed import tick_task_id

from webmon.history.ticks import chain_stages, group_ticks, latest_per_family, tick_key, tick_status, tick_task_ids

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
