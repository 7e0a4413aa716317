"""Module-scoped fixtures of a namespace cluster (tests/cluster/netns.py, services.py).

A test module names its hosts with a module-level `HOSTS = [...]` (default
host-a and host-b) and the demo site's size with `PRODUCTS` (default 30).
Everything skips with the reason when namespaces or PostgreSQL binaries are
not available (see netns_missing / postgres_missing).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.cluster.daemons import ClusterWebmon
from tests.cluster.netns import Cluster, cluster_of, netns_missing
from tests.cluster.services import (
    ClusterLuigid,
    ThrowawayPostgres,
    make_cluster_luigid,
    postgres_missing,
    start_demo_site_on,
)
from tests.conftest import DemoSite, stop


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    missing = netns_missing() or postgres_missing()
    if missing:
        pytest.skip(missing)
    yield from cluster_of(getattr(request.module, "HOSTS", ["host-a", "host-b"]))


@pytest.fixture(scope="module")
def cluster_pg(cluster: Cluster) -> Iterator[ThrowawayPostgres]:
    server = ThrowawayPostgres(cluster.gateway, cluster.subnet)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster_site(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[DemoSite]:
    demo = start_demo_site_on(cluster.gateway, getattr(request.module, "PRODUCTS", 30))
    yield demo
    stop(demo.proc)


@pytest.fixture(scope="module")
def cluster_luigid(cluster: Cluster, cluster_pg: ThrowawayPostgres, tmp_path_factory: pytest.TempPathFactory,
                   request: pytest.FixtureRequest) -> Iterator[ClusterLuigid]:
    """luigid on the bridge address; history and items DBs on the cluster's PostgreSQL.

    A module's `WORKER_DISCONNECT_DELAY` replaces the tests' 2 s ([scheduler] worker_disconnect_delay).
    """
    server = make_cluster_luigid(tmp_path_factory.mktemp("cluster"), cluster.gateway,
                                 cluster_pg.create_database("history"), cluster_pg.create_database("items"))
    delay = getattr(request.module, "WORKER_DISCONNECT_DELAY", None)
    if delay is not None:
        text = server.config.read_text()
        assert "worker_disconnect_delay = 2\n" in text
        server.config.write_text(text.replace("worker_disconnect_delay = 2\n", f"worker_disconnect_delay = {delay}\n"))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster_webmon(cluster_luigid: ClusterLuigid, cluster_pg: ThrowawayPostgres,
                   tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterWebmon]:
    """webmon's DB on the cluster's PostgreSQL, migrated; start trigger daemons in hosts with start_daemon()."""
    webmon = ClusterWebmon(cluster_luigid, cluster_pg.create_database("webmon"), tmp_path_factory.mktemp("webmon"))
    webmon.migrate()
    try:
        yield webmon
    finally:
        webmon.stop_daemons()
