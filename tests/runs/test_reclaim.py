"""Which tasks of a tick dead workers still hold in luigid, and the sentence that says until when.

luigid's answers are given as they come over its RPC (`worker_list`, which
prunes first); the end-to-end proof against a real luigid is
tests/scheduling/test_dead_worker_e2e.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pipelines.runs.reclaim import SILENT_AFTER, chain, reclaim
from pipelines.tasks import RunCrawl

NOW = datetime(2026, 11, 21, 7, 31, 10, tzinfo=UTC)
FETCH = "FetchPages_2026_11_21T0730_demo_abc"
TASKS = {FETCH: "FetchPages(crawl=demo, at=2026-11-21T0730)", "ParsePages_x": "ParsePages(crawl=demo, at=2026-11-21T0730)"}


def worker(pid: int, host: str, silent: float, running: list[str]) -> dict[str, Any]:
    return {"name": f"Worker(salt=1, workers=1, host={host}, username=u, pid={pid})", "host": host, "pid": pid,
            "last_active": NOW.timestamp() - silent, "running": {t: {"display_name": t} for t in running}}


class Luigid:
    def __init__(self, *workers: dict[str, Any]) -> None:
        self.workers = list(workers)
        self.calls: list[str] = []

    def __call__(self, method: str, **arguments: Any) -> Any:
        self.calls.append(method)
        return self.workers if method == "worker_list" else None


def holds_of(luigid: Luigid, dead_pids: set[int] = frozenset(), delay: float = 60.0) -> list:
    return reclaim(luigid, TASKS, now=NOW, host="here", delay=delay, alive=lambda pid: pid not in dead_pids)


def test_it_asks_luigid_once_for_its_workers_which_prunes_them_first() -> None:
    luigid = Luigid()
    assert holds_of(luigid) == []
    assert luigid.calls == ["worker_list"]


def test_a_task_held_by_a_worker_of_this_host_whose_process_is_gone_is_reported_with_its_free_time() -> None:
    [hold] = holds_of(Luigid(worker(4242, "here", silent=3.2, running=[FETCH])), dead_pids={4242})
    assert hold.sentence() == (
        "FetchPages(crawl=demo, at=2026-11-21T0730) is still held in luigid by a dead worker (pid 4242 on here, "
        "its process is gone; last contact 2026-11-21 07:31:06 UTC): luigid lets it go [scheduler] "
        "worker_disconnect_delay = 60 s after that contact, so this tick can run again after "
        "2026-11-21 07:32:07 UTC; this run will not run it.")  # 07:31:06.8 + 60 s, rounded up


def test_a_live_worker_of_this_host_is_not_a_hold() -> None:
    assert holds_of(Luigid(worker(4242, "here", silent=0.5, running=[FETCH]))) == []


def test_a_worker_of_another_host_counts_as_dead_only_once_silent() -> None:
    assert holds_of(Luigid(worker(7, "elsewhere", silent=SILENT_AFTER - 1, running=[FETCH]))) == []
    [hold] = holds_of(Luigid(worker(7, "elsewhere", silent=14, running=[FETCH])))
    assert "(pid 7 on elsewhere, silent for 14 s; last contact 2026-11-21 07:30:56 UTC)" in hold.sentence()


def test_tasks_of_other_ticks_are_not_reported() -> None:
    assert holds_of(Luigid(worker(4242, "here", silent=3, running=["FetchPages_other_tick"])), dead_pids={4242}) == []


def test_a_delay_already_passed_by_this_process_clock_says_luigid_decides() -> None:
    [hold] = holds_of(Luigid(worker(4242, "here", silent=30, running=[FETCH])), dead_pids={4242}, delay=10)
    assert hold.sentence().endswith(
        "can run again once luigid's own worker_disconnect_delay has passed (longer than the 10 s this process "
        "reads); this run will not run it.")


def test_the_chain_of_a_tick_is_all_four_tasks_by_id() -> None:
    tasks = chain(RunCrawl(crawl="demo", at=datetime(2026, 11, 21, 7, 30)))
    assert sorted(name.split("(")[0] for name in tasks.values()) == ["FetchPages", "ParsePages", "RunCrawl",
                                                                      "StoreItems"]
    assert tasks[next(t for t in tasks if t.startswith("FetchPages"))] == "FetchPages(crawl=demo, at=2026-11-21T0730)"
