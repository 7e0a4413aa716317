"""crawl_luigid_tasks against a real luigid: pending counts work that can run, not tasks behind a failed
or disabled upstream (luigid keeps those pending for remove_delay, 10 minutes by default, doing nothing).

The tasks are added through luigi's own RPC client (luigi.rpc.RemoteScheduler.add_task), as a worker
adds them, so luigid computes their upstream status itself.
"""

from __future__ import annotations

from collections.abc import Iterator

import luigi.rpc
import pytest
from django.test import Client, override_settings
from history_seed import HistorySeed

from tests.conftest import Luigid
from tests.metrics.world import samples, scrape


@pytest.fixture
def scheduler(luigid: Luigid) -> Iterator[luigi.rpc.RemoteScheduler]:
    with override_settings(LUIGID_URL=luigid.url):
        yield luigi.rpc.RemoteScheduler(luigid.url)


def add(scheduler: luigi.rpc.RemoteScheduler, task_id: str, status: str, deps: list[str] | None = None) -> None:
    scheduler.add_task(worker="test-worker", task_id=task_id, status=status, deps=deps or [], family=task_id,
                       params={})


def luigid_series(text: str) -> list[str]:
    return samples(text, "crawl_luigid_tasks", "crawl_luigid_blocked_tasks")


def test_tasks_behind_a_failed_upstream_are_blocked_not_pending(fresh: None, history: HistorySeed,
                                                                 scheduler: luigi.rpc.RemoteScheduler,
                                                                 anonymous: Client) -> None:
    # FetchPages failed; the two ParsePages that need it wait for nothing. A third crawl's FetchPages can run.
    add(scheduler, "FetchPages_a", "FAILED")
    add(scheduler, "ParsePages_a", "PENDING", ["FetchPages_a"])
    add(scheduler, "StoreItems_a", "PENDING", ["ParsePages_a"])
    add(scheduler, "FetchPages_b", "PENDING")
    assert luigid_series(scrape(anonymous)) == [
        'crawl_luigid_tasks{status="running"} 0.0',
        'crawl_luigid_tasks{status="pending"} 1.0',
        'crawl_luigid_blocked_tasks{reason="upstream_failed"} 2.0',
        'crawl_luigid_blocked_tasks{reason="upstream_disabled"} 0.0',
    ]

    # Behind a running upstream is work that will run: pending. One blocked task is counted too (luigid
    # answers the task itself below two, a count above one).
    add(scheduler, "FetchPages_c", "RUNNING")
    add(scheduler, "ParsePages_c", "PENDING", ["FetchPages_c"])
    add(scheduler, "StoreItems_a", "PENDING", ["FetchPages_b"])  # no longer behind the failure
    assert luigid_series(scrape(anonymous)) == [
        'crawl_luigid_tasks{status="running"} 1.0',
        'crawl_luigid_tasks{status="pending"} 3.0',
        'crawl_luigid_blocked_tasks{reason="upstream_failed"} 1.0',
        'crawl_luigid_blocked_tasks{reason="upstream_disabled"} 0.0',
    ]
