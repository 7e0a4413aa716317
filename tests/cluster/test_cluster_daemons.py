"""Worker hosts as network namespaces, each with its own trigger daemon on one webmon DB.

As docs/operations.md "Several worker hosts" deploys it: one luigid, the
history, items and webmon DBs on one PostgreSQL, a shared data folder, and
`manage.py trigger --slots N` on every host. Runs are queued in webmon's DB
(as the Run now button queues them) and the daemons take them:

- ticks spread over the hosts, each stored once and recorded with its host;
- a host killed mid-crawl (SIGKILL of everything in its namespace, as a
  power cut would) is found lost, its run queued again and finished by the
  other host: the same URLs fetched as a clean tick, every item stored once,
  the dead attempt's records marked killed, its temporary folder gone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cluster.daemons import ClusterWebmon, kill_host
from tests.cluster.netns import Cluster
from tests.cluster.services import ClusterLuigid, start_demo_site_on
from tests.conftest import DemoSite, stop

pytestmark = pytest.mark.netns  # several hosts as network namespaces: needs root (CI has it)

HOSTS = ["host-a", "host-b"]
PRODUCTS = 40


@pytest.fixture(scope="module")
def fast_beats(cluster_luigid: ClusterLuigid) -> ClusterLuigid:
    """Run records beat every second and are dead after 4 s, so a lost host is found in seconds."""
    text = cluster_luigid.config.read_text()
    cluster_luigid.config.write_text(text.replace("[runs]\n", "[runs]\nheartbeat_seconds = 1\ndead_after_seconds = 4\n", 1))
    return cluster_luigid


@pytest.fixture(scope="module")
def slow_site(cluster: Cluster) -> Iterator[DemoSite]:
    """The demo site at 60 ms a response: a tick takes seconds, long enough to kill its host in the middle."""
    demo = start_demo_site_on(cluster.gateway, PRODUCTS, latency_ms=60)
    yield demo
    stop(demo.proc)


@pytest.fixture(scope="module")
def daemons(cluster: Cluster, fast_beats: ClusterLuigid, cluster_webmon: ClusterWebmon) -> ClusterWebmon:
    for host in HOSTS:
        cluster_webmon.start_daemon(cluster, host, slots=1)
    return cluster_webmon


def queue_runs(webmon: ClusterWebmon, crawls: list[str], at: datetime) -> list[int]:
    """A disabled schedule per crawl (nothing planned by itself) and one manual run of tick `at` each."""
    return webmon.django(f"""
from datetime import datetime
at = datetime.fromisoformat({at.isoformat()!r})
result = []
for crawl in {crawls!r}:
    s = Schedule.objects.create(name=crawl, crawl=crawl, cron="0 * * * *", enabled=False, start_at=at,
                                retries=0, timeout_seconds=600)
    result.append(ScheduledRun.objects.create(schedule=s, logical_time=at, trigger="manual").pk)
""")  # type: ignore[return-value]


def runs_of(webmon: ClusterWebmon, ids: list[int]) -> dict[int, dict]:
    rows = webmon.django(f"""
result = {{r.pk: dict(state=r.state, claimed_by=r.claimed_by, attempts=r.attempts, host_losses=r.host_losses,
                      reason=r.reason, exit_code=r.exit_code)
          for r in ScheduledRun.objects.filter(pk__in={ids!r})}}
""")
    return {int(k): v for k, v in rows.items()}  # type: ignore[union-attr]


def wait_for(what: str, check, timeout: float, webmon: ClusterWebmon) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    logs = "\n".join(f"--- {h}\n{webmon.daemon_log(h)[-3000:]}" for h in HOSTS)
    raise AssertionError(f"{what}: not within {timeout:.0f} s\n{logs}")


def query(url: str, sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def history(luigid: ClusterLuigid, sql: str, **params: object) -> list[tuple]:
    return query(luigid.history_url, sql, **params)


def items(luigid: ClusterLuigid, sql: str, **params: object) -> list[tuple]:
    return query(luigid.items_url, sql, **params)


def fetched_urls(luigid: ClusterLuigid, crawl: str, tick: str) -> set[str]:
    import json

    lines = Path(luigid.data_dir, crawl, tick, "fetch", "urls.jsonl").read_text().splitlines()
    return {json.loads(line)["url"] for line in lines}


def test_ticks_spread_over_the_hosts_and_each_is_stored_once(
        cluster: Cluster, daemons: ClusterWebmon, slow_site: DemoSite) -> None:
    luigid = daemons.luigid
    crawls = [f"spread_{i}" for i in range(4)]
    for crawl in crawls:
        luigid.write_spec(crawl, slow_site.url, allowed_domains=[cluster.gateway])
    ids = queue_runs(daemons, crawls, datetime(2026, 12, 3, 7, 0, tzinfo=UTC))
    done = wait_for("the four runs succeed",
                    lambda: (r := runs_of(daemons, ids)) and all(v["state"] == "success" for v in r.values()) and r,
                    timeout=240, webmon=daemons)
    claimed = {v["claimed_by"].split(":")[0] for v in done.values()}  # type: ignore[union-attr]
    assert claimed == set(HOSTS), done  # one slot each: both hosts ran ticks
    for crawl in crawls:
        fetch_hosts = history(luigid, "SELECT host FROM crawl_runs WHERE crawl = :c AND family = 'FetchPages'"
                                      " AND status = 'done'", c=crawl)
        assert len(fetch_hosts) == 1 and fetch_hosts[0][0] in HOSTS
        assert items(luigid, "SELECT count(*) FROM crawl_items WHERE crawl = :c", c=crawl) == [(PRODUCTS,)]
        assert items(luigid, "SELECT items FROM crawl_markers WHERE crawl = :c", c=crawl) == [(PRODUCTS,)]
    # Each run's records name the host whose daemon claimed it.
    for run_id, run in done.items():  # type: ignore[union-attr]
        hosts = history(luigid, "SELECT DISTINCT r.host FROM crawl_runs r JOIN crawl_run_deps d ON d.run_id = r.id"
                                " WHERE d.scheduled_run = :s", s=run_id)
        assert hosts == [(run["claimed_by"].split(":")[0],)]


def test_a_host_killed_mid_crawl_is_found_lost_and_its_tick_is_finished_on_the_other_host(
        cluster: Cluster, daemons: ClusterWebmon, slow_site: DemoSite) -> None:
    luigid = daemons.luigid
    # A clean tick first: what a whole crawl of this site fetches.
    # One page at a time, 0.1 s apart: the fetch takes several seconds.
    slow = dict(allowed_domains=[cluster.gateway], concurrency=1, delay=0.1, randomize_delay=False)
    luigid.write_spec("reference", slow_site.url, **slow)
    crawl = "lost_host"
    luigid.write_spec(crawl, slow_site.url, **slow)
    [reference, run_id] = queue_runs(daemons, ["reference", crawl], datetime(2026, 12, 3, 8, 0, tzinfo=UTC))

    def fetching_host() -> str | None:
        rows = history(luigid, "SELECT r.host FROM crawl_runs r JOIN crawl_run_deps d ON d.run_id = r.id"
                               " WHERE d.scheduled_run = :s AND r.family = 'FetchPages' AND r.status = 'running'",
                       s=run_id)
        return rows[0][0] if rows else None

    tick = Path(luigid.data_dir, crawl, "20261203T0800Z")
    victim = wait_for("the tick's fetch is under way", fetching_host, timeout=120, webmon=daemons)
    time.sleep(2)  # a few pages in
    survivor = next(h for h in HOSTS if h != victim)
    kill_host(cluster, victim)
    daemons.daemons.pop(victim, None)
    assert list(tick.glob("fetch.tmp-*")) and not (tick / "fetch").exists()  # killed in the middle of the fetch

    done = wait_for("the lost host's run succeeds elsewhere",
                    lambda: (r := runs_of(daemons, [run_id])[run_id])["state"] == "success" and r,
                    timeout=240, webmon=daemons)
    assert done["claimed_by"].startswith(f"{survivor}:"), done  # type: ignore[index]
    assert done["host_losses"] == 1 and done["attempts"] == 1, done  # type: ignore[index]
    fetches = history(luigid, "SELECT r.host, r.status FROM crawl_runs r JOIN crawl_run_deps d ON d.run_id = r.id"
                              " WHERE d.scheduled_run = :s AND r.family = 'FetchPages' ORDER BY r.id", s=run_id)
    assert fetches[0] == (victim, "killed") and fetches[-1] == (survivor, "done"), fetches
    assert all(status != "running" for _, status in fetches)
    # Nothing lost, nothing twice: the same URLs as the clean tick, every product stored once.
    wait_for("the reference tick succeeds",
             lambda: runs_of(daemons, [reference])[reference]["state"] == "success", timeout=240, webmon=daemons)
    assert fetched_urls(luigid, crawl, "20261203T0800Z") == fetched_urls(luigid, "reference", "20261203T0800Z")
    assert items(luigid, "SELECT count(*), count(DISTINCT item_key) FROM crawl_items WHERE crawl = :c",
                 c=crawl) == [(PRODUCTS, PRODUCTS)]
    assert items(luigid, "SELECT items FROM crawl_markers WHERE crawl = :c", c=crawl) == [(PRODUCTS,)]
    assert not list(tick.glob("*.tmp-*"))  # the dead attempt's folder is gone
