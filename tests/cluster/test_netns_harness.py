"""The namespace harness cleans up: after teardown and after a crashed run."""

from __future__ import annotations

import subprocess

import pytest

from tests.cluster.netns import NS_PREFIX, build_cluster, ip, netns_missing, sweep_leftovers

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(netns_missing() is not None, reason=str(netns_missing()))]


def namespaces() -> set[str]:
    return {line.split()[0] for line in ip("netns", "list").stdout.splitlines() if line.strip()}


def links() -> str:
    return ip("-o", "link", "show").stdout


def test_teardown_kills_the_hosts_processes_and_removes_namespaces_veths_and_bridge() -> None:
    cluster = build_cluster(["solo"])
    host = cluster["solo"]
    sleeper = cluster.run_in("solo", ["sleep", "300"])
    # a process that left the group (setsid) is found by its namespace
    escaped = cluster.run_in("solo", ["setsid", "sleep", "301"])
    assert host.netns in namespaces() and cluster.bridge in links()
    cluster.teardown()
    assert sleeper.poll() is not None
    assert escaped.poll() is not None
    assert subprocess.run(["pgrep", "-f", "sleep 301"], capture_output=True).returncode == 1
    assert host.netns not in namespaces()
    assert cluster.bridge not in links() and host.veth not in links()


def test_the_sweep_removes_leftovers_of_a_run_whose_pid_is_gone() -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale_ns, stale_link = f"{NS_PREFIX}{dead.pid}-ab-host-a", f"ctb{dead.pid:06x}ab"
    ip("netns", "add", stale_ns)
    ip("link", "add", stale_link, "type", "bridge")
    try:
        sweep_leftovers()  # (a concurrent test module's build may sweep them first: same outcome)
        assert stale_ns not in namespaces() and stale_link not in links()
    finally:
        ip("netns", "delete", stale_ns, check=False)
        ip("link", "delete", stale_link, check=False)
