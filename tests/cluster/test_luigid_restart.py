"""luigid restarted in the middle of two crawl ticks, one in host-a and one in host-b.

Both ticks run through the real CLI against a slow demo site (300 ms a
response): host-a's crawl fetches 4 pages at once and ends its fetch while
luigid is away, host-b's fetches one at a time and is still fetching when
luigid is back. luigid is stopped as soon as both fetches run and started
again, on the same address and port with the same config, once host-a's
fetch is done. This module's luigid has the product's `[scheduler]
worker_disconnect_delay` (60 s; the test config's 2 s would have luigid drop
every worker that was silent across the restart) and, like every test
luigid, the product's `[core] rpc_retry_*`: a worker retries every 5 s.

- SIGTERM: luigid pickles its state and reloads it. It still knows both
  ticks' tasks, the workers go on where they were, no worker has to schedule
  anything again.
- SIGKILL: luigid starts without those tasks. Each worker's running fetch
  goes on; when it ends, luigid has nothing pending for the worker, which
  schedules its tick again (pipelines/worker.py RejoiningWorker) and finishes.

Either way: both ticks exit 0, every item is stored once, one marker per
tick, one `done` run record per stage.
"""

from __future__ import annotations

import configparser
import json
import signal
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cluster.netns import Cluster
from tests.cluster.services import ClusterLuigid, start_demo_site_on
from tests.conftest import PYTHON, ROOT, DemoSite, stop

pytestmark = pytest.mark.netns  # several hosts as network namespaces: needs root (CI has it)

HOSTS = ["host-a", "host-b"]
PRODUCTS = 30
LATENCY_MS = 300
AT = "2026-12-03T0700"
FAMILIES = ("FetchPages", "ParsePages", "StoreItems", "RunCrawl")
REJOINED = "Scheduling them again."  # the end of RejoiningWorker's warning
WAIT = 60.0  # seconds any one step of a scenario may take before the test gives up on it


def product_setting(section: str, key: str) -> str:
    parser = configparser.ConfigParser()
    parser.read(ROOT / "luigi.cfg")
    return parser[section][key]


# The product's delay, not the tests' 2 s: with 2 s luigid would drop every worker during any outage.
WORKER_DISCONNECT_DELAY = product_setting("scheduler", "worker_disconnect_delay")


@pytest.fixture(scope="module")
def slow_site(cluster: Cluster) -> Iterator[DemoSite]:
    demo = start_demo_site_on(cluster.gateway, PRODUCTS, latency_ms=LATENCY_MS)
    yield demo
    stop(demo.proc)


class Tick:
    """A `RunCrawl` of one crawl running in one host, its output in files."""

    def __init__(self, cluster: Cluster, host: str, luigid: ClusterLuigid, crawl: str, folder: Path) -> None:
        self.host, self.crawl = host, crawl
        self.out, self.err = folder / f"{crawl}.out", folder / f"{crawl}.err"
        with open(self.out, "w") as out, open(self.err, "w") as err:
            self.proc = cluster.run_in(host, [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl",
                                              "--crawl", crawl, "--at", AT],
                                       env=luigid.worker_env(), cwd=ROOT, stdout=out, stderr=err)

    def wait(self) -> int:
        return self.proc.wait(timeout=WAIT)

    def stderr(self) -> str:
        return self.err.read_text(errors="replace")


def runs_of(luigid: ClusterLuigid, crawl: str) -> list[tuple[str, str, str]]:
    """(family, status, host) of the crawl's run records, oldest first; [] before the table exists."""
    engine = sa.create_engine(luigid.history_url)
    try:
        with engine.connect() as conn:
            if not sa.inspect(conn).has_table("crawl_runs"):
                return []
            return [tuple(row) for row in conn.execute(
                sa.text("SELECT family, status, host FROM crawl_runs WHERE crawl = :c ORDER BY id"), {"c": crawl})]
    finally:
        engine.dispose()


def fetch_status(luigid: ClusterLuigid, crawl: str) -> str | None:
    statuses = [status for family, status, _ in runs_of(luigid, crawl) if family == "FetchPages"]
    return statuses[-1] if statuses else None


def wait_until(what: str, check: Callable[[], bool]) -> None:
    deadline = time.monotonic() + WAIT
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {WAIT:g} s: {what}")
        time.sleep(0.1)


def luigid_tasks(luigid: ClusterLuigid, crawl: str) -> dict[str, str]:
    """{family: status} of the tasks of `crawl` that luigid holds (its /api/task_list)."""
    query = urllib.parse.urlencode({"data": json.dumps({"search": f"crawl={crawl},"})})
    with urllib.request.urlopen(f"{luigid.url}/api/task_list?{query}", timeout=10) as answer:
        tasks = json.loads(answer.read())["response"]
    return {task["name"]: task["status"] for task in tasks.values() if task["params"].get("crawl") == crawl}


def items_of(luigid: ClusterLuigid, crawl: str) -> tuple[int, int, list[int]]:
    """(rows in crawl_items, distinct item keys, item counts of the crawl's markers)."""
    engine = sa.create_engine(luigid.items_url)
    try:
        with engine.connect() as conn:
            rows, keys = conn.execute(sa.text("SELECT count(*), count(DISTINCT item_key) FROM crawl_items "
                                              "WHERE crawl = :c"), {"c": crawl}).one()
            markers = [n for (n,) in conn.execute(sa.text("SELECT items FROM crawl_markers WHERE crawl = :c"),
                                                  {"c": crawl})]
    finally:
        engine.dispose()
    return rows, keys, markers


def start_two_ticks(cluster: Cluster, luigid: ClusterLuigid, site: DemoSite, prefix: str,
                    folder: Path) -> tuple[Tick, Tick]:
    """host-a's crawl fetches 4 at once (done in ~3 s), host-b's 1 at a time (~10 s); both fetching on return."""
    fast, slow = f"{prefix}_a", f"{prefix}_b"
    luigid.write_spec(fast, site.url, allowed_domains=[cluster.gateway], concurrency=4)
    luigid.write_spec(slow, site.url, allowed_domains=[cluster.gateway], concurrency=1)
    ticks = Tick(cluster, "host-a", luigid, fast, folder), Tick(cluster, "host-b", luigid, slow, folder)
    wait_until("both fetches run", lambda: all(fetch_status(luigid, t.crawl) == "running" for t in ticks))
    return ticks


def luigid_away_while(luigid: ClusterLuigid, how: signal.Signals, a: Tick, b: Tick) -> None:
    """Stop luigid with `how`; start it again once a's fetch is done (b's still running)."""
    if how == signal.SIGTERM:
        luigid.terminate()
    else:
        luigid.kill()
    wait_until(f"{a.crawl}'s fetch ends while luigid is away", lambda: fetch_status(luigid, a.crawl) == "done")
    time.sleep(1.0)  # a's worker reports the fetch done to nobody, and tries again
    assert fetch_status(luigid, b.crawl) == "running", "the slow fetch ended while luigid was away: nothing to test"
    luigid.start()


def assert_both_ticks_finished_once(luigid: ClusterLuigid, a: Tick, b: Tick) -> None:
    for tick in (a, b):
        assert tick.wait() == 0, tick.stderr()[-4000:]
    for tick in (a, b):
        runs = runs_of(luigid, tick.crawl)
        assert sorted(family for family, _, _ in runs) == sorted(FAMILIES), runs  # one attempt of each stage
        assert {(status, host) for _, status, host in runs} == {("done", tick.host)}, runs
        assert items_of(luigid, tick.crawl) == (PRODUCTS, PRODUCTS, [PRODUCTS])
        assert luigid_tasks(luigid, tick.crawl) == dict.fromkeys(FAMILIES, "DONE")


def test_a_luigid_stopped_with_sigterm_mid_crawl_keeps_its_state_and_both_ticks_finish(
        cluster: Cluster, cluster_luigid: ClusterLuigid, slow_site: DemoSite, tmp_path: Path) -> None:
    a, b = start_two_ticks(cluster, cluster_luigid, slow_site, "kept", tmp_path)
    state = cluster_luigid.home / "state.pickle"  # the test config's [scheduler] state_path
    state.unlink(missing_ok=True)

    luigid_away_while(cluster_luigid, signal.SIGTERM, a, b)

    assert state.exists()  # pickled on SIGTERM, loaded on start
    # luigid knows both ticks from before the stop: b's fetch is still running and
    # b has not said a word about its other stages since.
    known = luigid_tasks(cluster_luigid, b.crawl)
    assert known == {"FetchPages": "RUNNING", "ParsePages": "PENDING", "StoreItems": "PENDING",
                     "RunCrawl": "PENDING"}
    assert set(luigid_tasks(cluster_luigid, a.crawl)) == set(FAMILIES)

    assert_both_ticks_finished_once(cluster_luigid, a, b)
    for tick in (a, b):
        assert REJOINED not in tick.stderr()  # luigid still had their tasks: nothing scheduled again


def test_a_luigid_killed_mid_crawl_loses_its_state_and_the_workers_schedule_their_ticks_again(
        cluster: Cluster, cluster_luigid: ClusterLuigid, slow_site: DemoSite, tmp_path: Path) -> None:
    if cluster_luigid.proc is None or cluster_luigid.proc.poll() is not None:
        cluster_luigid.start()  # the test before left it stopped
    a, b = start_two_ticks(cluster, cluster_luigid, slow_site, "lost", tmp_path)

    luigid_away_while(cluster_luigid, signal.SIGKILL, a, b)

    # Nothing of b's tick survived: b has not reported anything since (its fetch runs).
    assert luigid_tasks(cluster_luigid, b.crawl) == {}
    assert fetch_status(cluster_luigid, b.crawl) == "running"

    assert_both_ticks_finished_once(cluster_luigid, a, b)
    for tick in (a, b):
        assert tick.stderr().count(REJOINED) == 1, tick.stderr()[-4000:]
