"""Two worker hosts as network namespaces: each runs a crawl tick through the real CLI.

The hosts "host-a" and "host-b" reach luigid, the demo site and a throwaway
PostgreSQL on the bridge address only (tests/cluster/netns.py, services.py);
the data folder is shared (the same filesystem). A tick run in host-a is
recorded with host-a's hostname and its items are stored; the next tick runs
in host-b and is recorded there.
"""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.cluster.netns import Cluster
from tests.cluster.services import ClusterLuigid, ThrowawayPostgres
from tests.conftest import PYTHON, ROOT, DemoSite

pytestmark = pytest.mark.netns  # several hosts as network namespaces: needs root (CI has it)

HOSTS = ["host-a", "host-b"]
TICK_A, TICK_B = "2026-12-03T0700", "2026-12-03T0710"
PRODUCTS = 30


def tick_in(cluster: Cluster, host: str, luigid: ClusterLuigid, crawl: str, at: str) -> subprocess.CompletedProcess:
    return cluster.call_in(host, [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl",
                                  "--crawl", crawl, "--at", at], env=luigid.worker_env(), cwd=ROOT, timeout=60)


def hosts_of_runs(luigid: ClusterLuigid, crawl: str) -> dict[str, set[str]]:
    """{family: {host, ...}} of the crawl's done run records."""
    engine = sa.create_engine(luigid.history_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT family, host FROM crawl_runs WHERE crawl = :c AND status = 'done'"),
                                {"c": crawl}).all()
    finally:
        engine.dispose()
    found: dict[str, set[str]] = {}
    for family, host in rows:
        found.setdefault(family, set()).add(host)
    return found


def luigid_hosts(luigid: ClusterLuigid, family: str) -> set[str]:
    """Worker hosts luigid itself recorded for `family` (Luigi's `tasks` history table)."""
    engine = sa.create_engine(luigid.history_url)
    try:
        with engine.connect() as conn:
            return {h for (h,) in conn.execute(sa.text("SELECT host FROM tasks WHERE name = :n"), {"n": family})}
    finally:
        engine.dispose()


def markers(luigid: ClusterLuigid, crawl: str) -> list[tuple[str, int]]:
    engine = sa.create_engine(luigid.items_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT at, items FROM crawl_markers WHERE crawl = :c ORDER BY at"),
                                {"c": crawl}).all()
    finally:
        engine.dispose()
    return [(at.strftime("%Y%m%dT%H%M"), n) for at, n in rows]


def stored_items(luigid: ClusterLuigid, crawl: str) -> list[tuple[str, str]]:
    engine = sa.create_engine(luigid.items_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT url, item_key FROM crawl_items WHERE crawl = :c"), {"c": crawl}).all()
    finally:
        engine.dispose()


def can_connect(cluster: Cluster, host: str, address: str, port: int) -> bool:
    probe = ("import socket,sys\n"
             "try:\n socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=2).close()\n"
             "except OSError as e:\n print(e); sys.exit(1)\n")
    return cluster.call_in(host, [PYTHON, "-c", probe, address, str(port)], timeout=20).returncode == 0


def test_each_host_has_its_own_hostname_and_address(cluster: Cluster) -> None:
    for name, host in cluster.hosts.items():
        out = cluster.call_in(name, [PYTHON, "-c", "import socket; print(socket.gethostname())"]).stdout.strip()
        assert out == name
        addrs = cluster.call_in(name, ["ip", "-4", "-o", "addr", "show", "dev", "eth0"]).stdout
        assert f"{host.address}/24" in addrs
    assert socket.gethostname() not in cluster.hosts  # the root namespace's hostname is untouched


def test_a_host_reaches_the_bridge_services_but_not_the_root_namespace_loopback(
        cluster: Cluster, cluster_luigid: ClusterLuigid, cluster_pg: ThrowawayPostgres) -> None:
    assert can_connect(cluster, "host-a", cluster.gateway, cluster_luigid.port)
    assert can_connect(cluster, "host-a", cluster.gateway, cluster_pg.port)
    # The hosts reach each other: a listener in host-b answers host-a.
    listener = cluster.run_in("host-b", [PYTHON, "-c", "import socket,time; s=socket.create_server(('0.0.0.0', 7001));"
                                         " print('up', flush=True); time.sleep(60)"], stdout=subprocess.PIPE, text=True)
    assert listener.stdout.readline().strip() == "up"
    assert can_connect(cluster, "host-a", cluster["host-b"].address, 7001)
    listener.kill()
    # A service on 127.0.0.1 of the root namespace answers here ...
    with socket.create_server(("127.0.0.1", 0)) as root_only:
        port = root_only.getsockname()[1]
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
        # ... but 127.0.0.1 inside a host is the host's own loopback.
        assert not can_connect(cluster, "host-a", "127.0.0.1", port)
        assert not can_connect(cluster, "host-a", cluster.gateway, port)
    # No default route: an address off the bridge is unreachable, nothing leaves the machine.
    routes = cluster.call_in("host-a", ["ip", "-4", "route", "show"]).stdout
    assert "default" not in routes
    assert not can_connect(cluster, "host-a", "192.0.2.1", 80)  # TEST-NET-1


def test_ticks_run_in_host_a_then_host_b_are_recorded_with_their_host_and_store_items(
        cluster: Cluster, cluster_luigid: ClusterLuigid, cluster_site: DemoSite) -> None:
    crawl = "cluster_smoke"
    cluster_luigid.write_spec(crawl, cluster_site.url, allowed_domains=[cluster.gateway])

    first = tick_in(cluster, "host-a", cluster_luigid, crawl, TICK_A)
    assert first.returncode == 0, first.stderr[-3000:]
    after_a = hosts_of_runs(cluster_luigid, crawl)
    assert after_a.get("FetchPages") == {"host-a"}
    assert after_a.get("StoreItems") == {"host-a"}
    items = stored_items(cluster_luigid, crawl)
    assert len(items) == PRODUCTS
    assert all(url.startswith(f"http://{cluster.gateway}:") for url, _ in items)
    assert Path(cluster_luigid.data_dir, crawl, "20261203T0700Z").is_dir()
    assert luigid_hosts(cluster_luigid, "RunCrawl") == {"host-a"}  # scheduled through luigid, by host-a's worker

    second = tick_in(cluster, "host-b", cluster_luigid, crawl, TICK_B)
    assert second.returncode == 0, second.stderr[-3000:]
    after_b = hosts_of_runs(cluster_luigid, crawl)
    assert after_b["FetchPages"] == {"host-a", "host-b"}
    assert after_b["StoreItems"] == {"host-a", "host-b"}
    assert len(stored_items(cluster_luigid, crawl)) == PRODUCTS  # the same products: updated, not stored twice
    assert Path(cluster_luigid.data_dir, crawl, "20261203T0710Z").is_dir()
    assert luigid_hosts(cluster_luigid, "RunCrawl") == {"host-a", "host-b"}
    assert markers(cluster_luigid, crawl) == [("20261203T0700", PRODUCTS), ("20261203T0710", PRODUCTS)]
