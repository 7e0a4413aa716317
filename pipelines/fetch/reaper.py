"""Kill chromium/chromedriver processes left behind by dead crawl workers.

`pipelines.fetch.browser` launches every driver with a profile folder
``<run_dir>/profiles/<owner pid>-<owner start time>-<n>/`` that appears on the
command line of every process of that driver: chromedriver (``--log-path``),
the chromium browser and all its children (``--user-data-dir``) and the crash
handler (``--database``, via XDG_CONFIG_HOME). It also writes a tracking file
``<run_dir>/<owner pid>-<n>.json`` with the chromedriver PID and the profile.

A worker killed with SIGKILL (OOM killer, ``kill -9``, a crashed host agent)
never runs its ``quit()``; its chromedriver is re-parented to init and chromium
keeps running. `reap` finds them by tracking file and, for drivers whose file
was never written, by the profile prefix on the command line; the owner's PID
and start time come from the file or from the profile name, so a live owner
(or a new process that happens to reuse a dead owner's PID) is never touched,
and chromium started by anyone else never matches.

Run it from cron on each worker host as a backstop::

    */10 * * * * cd /srv/crawlops && .venv/bin/python -m pipelines.fetch.reaper --run-dir var/run/browsers

``BrowserDownloader`` also calls `reap` before it starts its first driver.
Linux only (reads /proc).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("pipelines.fetch.reaper")

DEFAULT_RUN_DIR = Path("var/run/browsers")
PROFILES = "profiles"


# -- /proc -----------------------------------------------------------------------

@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    start: int  # clock ticks after boot: (pid, start) identifies a process across PID reuse
    cmdline: str


def read_proc(pid: int) -> Proc | None:
    """One process from /proc, or None when it is gone (zombies count as gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read().decode("utf-8", "replace")
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read().replace(b"\0", b" ").decode("utf-8", "replace").strip()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # comm (field 2) may contain spaces and parentheses: split after the last ')'
    fields = stat[stat.rfind(")") + 2:].split()
    state = fields[0]
    if state in ("Z", "X"):
        return None
    return Proc(pid, int(fields[1]), state, int(fields[19]), cmdline)


def processes() -> dict[int, Proc]:
    """Every live process visible in /proc."""
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            proc = read_proc(int(entry))
            if proc is not None:
                found[proc.pid] = proc
    return found


def start_time(pid: int) -> int | None:
    proc = read_proc(pid)
    return proc.start if proc else None


def is_alive(pid: int, start: int | None = None) -> bool:
    """True when `pid` runs and, if `start` is given, is the process that started then."""
    proc = read_proc(pid)
    return proc is not None and (start is None or proc.start == start)


def matching(needle: str, procs: dict[int, Proc] | None = None) -> list[int]:
    """PIDs whose command line contains `needle`, never this process."""
    procs = processes() if procs is None else procs
    me = os.getpid()
    return sorted(p.pid for p in procs.values() if needle in p.cmdline and p.pid != me)


def descendants(roots: Iterable[int], procs: dict[int, Proc]) -> set[int]:
    children: dict[int, list[int]] = {}
    for p in procs.values():
        children.setdefault(p.ppid, []).append(p.pid)
    found: set[int] = set()
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kill_all(pids: Iterable[int], procs: dict[int, Proc] | None = None, grace: float = 2.0,
             timeout: float = 10.0) -> list[int]:
    """SIGTERM `pids`, SIGKILL what is left after `grace` s, poll until all are gone.

    A PID is only signalled while it is still the process seen in `procs` (same
    start time), so a PID reused in between is left alone. Returns the PIDs
    that were signalled.
    """
    procs = processes() if procs is None else procs
    targets = {pid: procs[pid].start for pid in pids if pid in procs and pid != os.getpid()}
    signalled: list[int] = []
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, timeout)):
        for pid, start in list(targets.items()):
            if not is_alive(pid, start):
                del targets[pid]
                continue
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                del targets[pid]
                continue
            except PermissionError:
                log.warning("no permission to kill pid %d", pid)
                del targets[pid]
                continue
            if pid not in signalled:
                signalled.append(pid)
        deadline = time.monotonic() + wait
        while targets and time.monotonic() < deadline:
            targets = {pid: start for pid, start in targets.items() if is_alive(pid, start)}
            if targets:
                time.sleep(0.05)
        if not targets:
            break
    if targets:
        log.error("processes %s survived SIGKILL for %.0fs", sorted(targets), timeout)
    return sorted(signalled)


def remove_tree(path: Path) -> None:
    """rmtree that tolerates files vanishing or appearing while it runs."""
    for _ in range(3):
        try:
            shutil.rmtree(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)
    shutil.rmtree(path, ignore_errors=True)


# -- names -------------------------------------------------------------------------

def profile_name(owner: int, owner_start: int, n: int) -> str:
    return f"{owner}-{owner_start}-{n}"


def parse_profile_name(name: str) -> tuple[int, int | None] | None:
    """(owner pid, owner start time) of a profile folder name, None if not ours."""
    parts = name.split("-")
    if len(parts) != 3 or not all(p.isdigit() for p in parts):
        return None
    return int(parts[0]), int(parts[1]) or None


def profiles_prefix(run_dir: Path) -> str:
    """What every process of every driver under `run_dir` has on its command line."""
    return str(Path(run_dir).resolve() / PROFILES) + os.sep


# -- reaping -----------------------------------------------------------------------

def reap(run_dir: Path | str = DEFAULT_RUN_DIR, grace: float = 2.0, timeout: float = 10.0) -> list[int]:
    """Kill the browser processes of dead owners under `run_dir`; return the PIDs killed.

    Also removes their tracking files and profile folders. Processes whose
    owner is alive, and processes not started under `run_dir`, are never touched.
    """
    run_dir = Path(run_dir).resolve()
    if not run_dir.is_dir():
        return []
    prefix = profiles_prefix(run_dir)
    procs = processes()
    targets: set[int] = set()
    stale_files: list[Path] = []
    stale_profiles: set[Path] = set()
    owners: dict[int, int] = {}  # owner pid -> processes found, for the log

    def claim(owner: int, pids: set[int]) -> None:
        pids |= descendants(pids, procs)  # children of our chromedriver/chromium are ours
        pids.discard(os.getpid())
        if pids:
            owners[owner] = owners.get(owner, 0) + len(pids - targets)
            targets.update(pids)

    # 1. tracking files of dead owners
    for path in sorted(run_dir.glob("*.json")):
        try:
            info = json.loads(path.read_text())
            owner, owner_start = int(info["owner"]), info.get("owner_start")
            profile = Path(info["profile"])
        except FileNotFoundError:
            continue  # removed by its owner's clean quit meanwhile
        except (OSError, ValueError, KeyError, TypeError):
            head = path.stem.split("-")[0]
            if head.isdigit() and not is_alive(int(head)):
                stale_files.append(path)  # torn or foreign file of a dead owner
            continue
        if is_alive(owner, owner_start or None):
            continue
        pids = set(matching(str(profile) + os.sep, procs))
        driver = info.get("chromedriver")
        if driver and driver in procs and "chromedriver" in procs[driver].cmdline and (
                info.get("chromedriver_start") in (None, procs[driver].start)):
            pids.add(int(driver))
        claim(owner, pids)
        stale_files.append(path)
        stale_profiles.add(profile)

    # 2. processes of dead owners without (or with a torn) tracking file
    for proc in procs.values():
        at = proc.cmdline.find(prefix)
        if at < 0:
            continue
        name = proc.cmdline[at + len(prefix):].split(os.sep, 1)[0].split(" ", 1)[0]
        parsed = parse_profile_name(name)
        if parsed is None or is_alive(*parsed):
            continue
        claim(parsed[0], {proc.pid})
        stale_profiles.add(run_dir / PROFILES / name)

    # 3. profile folders of dead owners with no process left
    profiles_dir = run_dir / PROFILES
    if profiles_dir.is_dir():
        for folder in profiles_dir.iterdir():
            parsed = parse_profile_name(folder.name)
            if parsed is not None and not is_alive(*parsed):
                stale_profiles.add(folder)

    killed = kill_all(targets, procs, grace=grace, timeout=timeout) if targets else []
    for owner, count in sorted(owners.items()):
        log.warning("reaped %d browser processes left by dead worker pid %d", count, owner)
    survivors = {pid for pid in targets if pid in procs and is_alive(pid, procs[pid].start)}
    if survivors:
        return killed  # keep files and folders: the next reap tries again
    for path in stale_files:
        path.unlink(missing_ok=True)
    for folder in stale_profiles:
        if folder.resolve().parent == profiles_dir:
            remove_tree(folder)
    return killed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.fetch.reaper",
        description="Kill chromium/chromedriver processes left by dead crawl workers.")
    parser.add_argument("--run-dir", type=Path, default=DEFAULT_RUN_DIR,
                        help="the BrowserSettings.run_dir of the workers (default: %(default)s)")
    parser.add_argument("--grace", type=float, default=2.0, help="seconds between SIGTERM and SIGKILL")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    procs = processes()
    killed = reap(args.run_dir, grace=args.grace)
    if not killed:
        print(f"nothing to reap in {args.run_dir}")
        return 0
    print(f"killed {len(killed)} processes left in {args.run_dir}:")
    for pid in killed:
        cmd = procs[pid].cmdline if pid in procs else "?"
        print(f"  {pid}  {cmd[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
