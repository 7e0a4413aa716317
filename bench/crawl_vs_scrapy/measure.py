"""Measure one process tree from /proc: wall time, CPU seconds and peak RSS.

* wall: monotonic clock from just before ``Popen`` to the return of ``wait4``,
  so interpreter start-up and shutdown count.
* CPU: user + system seconds from the ``rusage`` that ``os.wait4`` returns for
  the child, which includes every descendant the child itself waited for.
* peak RSS: every ``interval`` seconds a thread adds up the ``VmRSS`` of the
  process and all its descendants; the peak is the largest such sum. The list
  of descendants (by parent pid, scanning ``/proc/*/stat``, ~1.7 ms with ~90
  processes) is refreshed every ``rescan_every`` samples (100 ms by default)
  to keep the sampler's own CPU near 1 % of a core, so a child living less
  than that may be missed. Threads share their process's RSS and count once.
* stack peak RSS: with ``also`` (e.g. luigid's pid), the same sum over those
  processes' trees is added at every sample, and the peak of the total is
  kept apart, so "the whole stack" is a peak of simultaneous RSS, not a sum
  of separate peaks.
"""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO

PROC = Path("/proc")


def _ppid_map() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    parents: dict[int, int] = {}
    for entry in os.scandir(PROC):
        if not entry.name.isdigit():
            continue
        try:
            stat = (PROC / entry.name / "stat").read_bytes()
        except OSError:  # exited while we looked
            continue
        # Field 2 (comm) may hold spaces and parentheses: split after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        parents[int(entry.name)] = int(fields[1])
    return parents


def descendants(root: int) -> list[int]:
    """``root`` and every process below it, parents first."""
    children: dict[int, list[int]] = {}
    for pid, ppid in _ppid_map().items():
        children.setdefault(ppid, []).append(pid)
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(children.get(pid, ()))
    return tree


def rss_bytes(pid: int) -> int:
    """VmRSS of one process in bytes; 0 once it has exited (or is a zombie)."""
    try:
        with open(PROC / str(pid) / "status", "rb") as fh:
            for line in fh:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


class TreeSampler:
    """A daemon thread that records the peak summed RSS of a process tree."""

    def __init__(self, root: int, interval: float = 0.02, rescan_every: int = 5,
                 also: Sequence[int] = ()) -> None:
        self.root = root
        self.also = tuple(also)
        self.interval = interval
        self.rescan_every = rescan_every
        self.tree = [root]
        self.also_tree: list[int] = list(self.also)
        self.peak = 0
        self.stack_peak = 0  # root's tree + the trees of `also`, summed at the same instant
        self.samples = 0
        self.max_processes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"rss-{root}", daemon=True)

    def start(self) -> TreeSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def sample(self) -> None:
        if self.samples % self.rescan_every == 0:
            self.tree = descendants(self.root)
            self.max_processes = max(self.max_processes, len(self.tree))
            if self.also:
                self.also_tree = [pid for root in self.also for pid in descendants(root)]
        rss = sum(rss_bytes(pid) for pid in self.tree)
        self.peak = max(self.peak, rss)
        if self.also:
            rss += sum(rss_bytes(pid) for pid in self.also_tree)
        self.stack_peak = max(self.stack_peak, rss)
        self.samples += 1

    def _loop(self) -> None:
        next_at = time.monotonic()
        while not self._stop.is_set():
            self.sample()
            next_at += self.interval
            # Fixed-rate schedule; after an overrun, start again from now.
            delay = next_at - time.monotonic()
            if delay < 0:
                next_at, delay = time.monotonic(), 0.0
            self._stop.wait(delay)


@dataclass(frozen=True)
class Measurement:
    returncode: int
    wall_s: float
    cpu_s: float
    peak_rss_bytes: int
    rss_samples: int
    max_processes: int
    stack_peak_rss_bytes: int = 0  # with `also`: peak of (this tree + theirs); else = peak_rss_bytes


def run_measured(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str], log: IO[bytes],
                 interval: float = 0.02, also: Sequence[int] = ()) -> Measurement:
    """Run ``argv`` to completion, its output into ``log``, and measure its tree.

    ``also``: pids of processes it works with (luigid) whose trees count in the stack peak RSS.
    """
    started = time.monotonic()
    proc = subprocess.Popen(list(argv), cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL,
                            stdout=log, stderr=subprocess.STDOUT)
    sampler = TreeSampler(proc.pid, interval, also=also).start()
    try:
        # wait4, not proc.wait(): it also hands back the child's rusage.
        _, status, usage = os.wait4(proc.pid, 0)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        sampler.stop()
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Measurement(
        returncode=proc.returncode, wall_s=wall, cpu_s=usage.ru_utime + usage.ru_stime,
        peak_rss_bytes=sampler.peak, rss_samples=sampler.samples, max_processes=sampler.max_processes,
        stack_peak_rss_bytes=sampler.stack_peak,
    )


def postmaster_pid() -> int | None:
    """The PostgreSQL server's main process (a `postgres` whose parent is not one), if visible."""
    comms: dict[int, tuple[str, int]] = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            with suppress(OSError):
                stat = Path(f"/proc/{entry.name}/stat").read_bytes()
                comm = stat[stat.find(b"(") + 1 : stat.rfind(b")")].decode(errors="replace")
                comms[int(entry.name)] = (comm, int(stat[stat.rfind(b")") + 2 :].split()[1]))
    roots = [pid for pid, (comm, ppid) in comms.items() if comm == "postgres" and comms.get(ppid, ("",))[0] != "postgres"]
    return roots[0] if len(roots) == 1 else None


def tree_cpu_seconds(root: int | None) -> float:
    """CPU of a process, its live descendants, and the children it has already waited for."""
    if root is None:
        return 0.0
    total = 0.0
    for pid in descendants(root):
        with suppress(OSError, IndexError, ValueError):
            fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
            ticks = int(fields[11]) + int(fields[12]) + (int(fields[13]) + int(fields[14]) if pid == root else 0)
            total += ticks / os.sysconf("SC_CLK_TCK")
    return total
