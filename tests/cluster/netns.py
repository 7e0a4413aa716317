"""Several worker "hosts" on one machine: Linux network namespaces made by the test.

Layout (all of it private to one test run, removed at teardown):

- a bridge `ctb<pid><rr>` in the root namespace holding 10.231.<X>.1/24, with no
  physical port: traffic on it cannot leave the machine;
- one network namespace per host, `crawlt-<pid>-<rr>-<name>`, with loopback up
  and a veth `ctv<pid><rr><i>` into the bridge; inside it is `eth0` with
  10.231.<X>.<10+i>/24 and no default route, so a host reaches only the other
  hosts and what listens on the bridge address (luigid, the demo site and a
  throwaway PostgreSQL started on 10.231.<X>.1, see `services.py`); its own
  127.0.0.1 is its own loopback, not the root namespace's;
- `run_in()` starts a process in a host through `ip netns exec`, inside a
  fresh UTS namespace (`unshare --uts`) whose hostname is the host's name, so
  `socket.gethostname()` (the run records' host column) differs per host.

Every process started with `run_in()` gets its own process group; teardown
kills the groups, deletes the namespaces (which removes their veth ends) and
the bridge, also after a failed test. Every process the harness starts dies
with the test process (PR_SET_PDEATHSIG), and before building, a sweep removes
namespaces, links and throwaway PostgreSQL clusters of an earlier run whose
pid is gone (a SIGKILLed pytest), found by the `crawlt-` / `ctb` / `ctv`
prefixes and the pid in their names.

Needs root and iproute2 (`ip`) plus util-linux `unshare`; without them
`require_netns()` skips with the reason.
"""

from __future__ import annotations

import ctypes
import glob
import os
import random
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pipelines.runs.sweep import pid_alive

NS_PREFIX = "crawlt-"
BRIDGE_PREFIX = "ctb"
VETH_PREFIX = "ctv"


def die_with_parent() -> None:
    """preexec_fn: SIGKILL this process when the test process dies (prctl PR_SET_PDEATHSIG).

    Kept across exec (`ip netns exec`, `unshare` and `sh -c exec` all exec in
    place), so a SIGKILLed pytest leaves no luigid, demo site or worker behind.
    """
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG = 1
    except (OSError, AttributeError):
        pass


def netns_missing() -> str | None:
    """Why namespaces cannot be made here, or None when they can."""
    if os.geteuid() != 0:
        return "network namespaces need root (run the suite as root, as .ci/run does)"
    for tool in ("ip", "unshare"):
        if shutil.which(tool) is None:
            return f"`{tool}` is not installed (iproute2 / util-linux)"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True)
    if probe.returncode != 0:
        return f"`ip netns list` failed: {probe.stderr.strip()}"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def sweep_leftovers() -> list[str]:
    """Delete namespaces and links of earlier runs whose pytest pid is gone; what was deleted."""
    removed = []
    for line in ip("netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{NS_PREFIX}(\d+)-[0-9a-f]+-.+", name)
        if m and not pid_alive(int(m.group(1))):
            _kill_namespace_processes(name)
            ip("netns", "delete", name, check=False)
            removed.append(name)
    for line in ip("-o", "link", "show", check=False).stdout.splitlines():
        m = re.match(r"\d+: ([^:@]+)", line)
        if not m:
            continue
        link = m.group(1)
        lm = re.fullmatch(rf"(?:{BRIDGE_PREFIX}|{VETH_PREFIX})([0-9a-f]{{6}})[0-9a-f]{{2}}\d*", link)
        if lm and not pid_alive(int(lm.group(1), 16)):
            ip("link", "delete", link, check=False)
            removed.append(link)
    for root in glob.glob(f"/tmp/{NS_PREFIX}pg-*"):  # throwaway PostgreSQL clusters (services.py)
        m = re.fullmatch(rf"{NS_PREFIX}pg-(\d+)-.*", os.path.basename(root))
        if m and not pid_alive(int(m.group(1))):
            stop_postgres(root)
            removed.append(root)
    return removed


def stop_postgres(root: str) -> None:
    """Stop (immediately) the PostgreSQL cluster under `root`/data and delete `root`."""
    pg_ctl = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if pg_ctl and os.path.isdir(os.path.join(root, "data")):
        subprocess.run(["runuser", "-u", "postgres", "--", pg_ctl[-1], "-D", os.path.join(root, "data"),
                        "-m", "immediate", "-w", "stop"], capture_output=True, cwd=root)
    shutil.rmtree(root, ignore_errors=True)


def _kill_namespace_processes(ns: str) -> None:
    pids = ip("netns", "pids", ns, check=False).stdout.split()
    for pid in pids:
        try:
            os.kill(int(pid), signal.SIGKILL)
        except (ProcessLookupError, ValueError):
            pass


def _free_subnet() -> int:
    """A third octet X such that no interface or route here uses 10.231.X.0/24."""
    used = ip("-4", "route", "show", check=False).stdout + ip("-4", "addr", "show", check=False).stdout
    for _ in range(200):
        octet = random.randrange(1, 255)
        if f"10.231.{octet}." not in used:
            return octet
    raise RuntimeError("no free 10.231.X.0/24 subnet")


@dataclass
class Host:
    """One worker host: a network namespace with its own address and hostname."""

    name: str        # the hostname its processes see, e.g. "host-a"
    netns: str       # the namespace's name for `ip netns exec`
    address: str     # its address on the bridge
    veth: str        # the root-namespace end of its veth


@dataclass
class Cluster:
    """A bridge and the hosts on it; `gateway` is the bridge's (the services') address."""

    tag: str
    bridge: str
    subnet: str
    gateway: str
    hosts: dict[str, Host] = field(default_factory=dict)
    procs: list[subprocess.Popen] = field(default_factory=list)

    def __getitem__(self, name: str) -> Host:
        return self.hosts[name]

    def run_in(self, host: str | Host, argv: Sequence[str], env: Mapping[str, str] | None = None,
               **popen: object) -> subprocess.Popen:
        """Start `argv` inside `host` (its network, its hostname) in its own process group."""
        h = host if isinstance(host, Host) else self.hosts[host]
        wrapped = ["ip", "netns", "exec", h.netns, "unshare", "--uts", "--",
                   "sh", "-c", 'hostname "$0" && exec "$@"', h.name, *argv]
        proc = subprocess.Popen(wrapped, env=dict(env) if env is not None else None,
                                start_new_session=True, preexec_fn=die_with_parent, **popen)
        self.procs.append(proc)
        return proc

    def call_in(self, host: str | Host, argv: Sequence[str], env: Mapping[str, str] | None = None,
                timeout: float = 120, **popen: object) -> subprocess.CompletedProcess:
        """Run `argv` in `host` to its end; stdout and stderr captured as text."""
        proc = self.run_in(host, argv, env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **popen)
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_group(proc)
            out, err = proc.communicate()
            raise RuntimeError(f"{argv} in {proc.args[3]} did not end within {timeout}s:\n{out}\n{err}") from None
        return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)

    def teardown(self) -> None:
        for proc in self.procs:
            kill_group(proc)
        for h in self.hosts.values():
            _kill_namespace_processes(h.netns)  # anything that left its process group
            ip("netns", "delete", h.netns, check=False)
            ip("link", "delete", h.veth, check=False)
        ip("link", "delete", self.bridge, check=False)


def kill_group(proc: subprocess.Popen, timeout: float = 5.0) -> None:
    """SIGTERM the process group of `proc`, SIGKILL it if it lingers."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, even after its leader ended
    except ProcessLookupError:
        pass
    proc.wait()


def build_cluster(names: Sequence[str]) -> Cluster:
    """Make the bridge and one namespace per name; on any failure undo what was made."""
    sweep_leftovers()
    pid, rr = os.getpid(), f"{random.randrange(256):02x}"
    tag = f"{pid:06x}{rr}"
    octet = _free_subnet()
    cluster = Cluster(tag=tag, bridge=f"{BRIDGE_PREFIX}{tag}", subnet=f"10.231.{octet}.0/24",
                      gateway=f"10.231.{octet}.1")
    try:
        ip("link", "add", cluster.bridge, "type", "bridge")
        ip("addr", "add", f"{cluster.gateway}/24", "dev", cluster.bridge)
        ip("link", "set", cluster.bridge, "up")
        for i, name in enumerate(names):
            host = Host(name=name, netns=f"{NS_PREFIX}{pid}-{rr}-{name}", address=f"10.231.{octet}.{10 + i}",
                        veth=f"{VETH_PREFIX}{tag}{i}")
            cluster.hosts[name] = host
            peer = f"{host.veth}p"
            ip("netns", "add", host.netns)
            ip("link", "add", host.veth, "type", "veth", "peer", "name", peer)
            ip("link", "set", peer, "netns", host.netns)
            ip("link", "set", host.veth, "master", cluster.bridge)
            ip("link", "set", host.veth, "up")
            inside = ("netns", "exec", host.netns, "ip")
            ip(*inside, "link", "set", "lo", "up")
            ip(*inside, "link", "set", peer, "name", "eth0")
            ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
            ip(*inside, "link", "set", "eth0", "up")
        _wait_forwarding(cluster)
    except BaseException:
        cluster.teardown()
        raise
    return cluster


def _wait_forwarding(cluster: Cluster, timeout: float = 10.0) -> None:
    """Until every host's bridge port forwards (state 3); with STP off that is at once, but not promised."""
    deadline = time.monotonic() + timeout
    for host in cluster.hosts.values():
        state = Path(f"/sys/class/net/{host.veth}/brport/state")
        while not (state.exists() and state.read_text().strip() == "3"):
            if time.monotonic() > deadline:
                raise RuntimeError(f"the bridge port of {host.name} ({host.veth}) does not forward")
            time.sleep(0.05)


def cluster_of(names: Sequence[str]) -> Iterator[Cluster]:
    """Generator for a pytest fixture: the cluster, torn down however the test ended."""
    cluster = build_cluster(names)
    try:
        yield cluster
    finally:
        cluster.teardown()
