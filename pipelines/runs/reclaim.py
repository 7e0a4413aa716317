"""Before a luigi process schedules a crawl: free its tasks held by dead workers, or say until when.

A worker killed with SIGKILL leaves its task RUNNING in luigid. luigid lets
it go once the worker has been silent for `[scheduler] worker_disconnect_delay`:
a prune (luigid's timer, or each get_work with `prune_on_get_work`) drops the
worker and marks the task FAILED, and a later add_task may make it PENDING.
A rerun, though, adds its tasks BEFORE its first get_work: luigid ignores the
PENDING claim (the task is still RUNNING), the prune inside that get_work then
fails the task, and the rerun gets no work and exits 25 ("not granted run
permission"); only the rerun after it ran.

So the first `complete()` of a crawl task in a `python -m luigi` process (the
worker checks the root task's completeness before it tells luigid about any
task) has the luigid the worker uses prune its workers and list them (one
RPC, `worker_list`, which prunes first). After the delay the rerun then runs
at the first try. Before it, each task of the tick still held by a dead
worker (a pid gone on this host, or a worker on another host silent for more
than SILENT_AFTER seconds) gets one warning sentence on stderr: the task, the
worker's pid and host, its last contact with luigid and the UTC time after
which the tick can run again (last contact + worker_disconnect_delay),
printed when the process ends, after luigi's summary. The run itself goes as luigi
decides: nothing runs, exit 10 ("being run by another worker").

Only under the luigi command line, not with `--local-scheduler` (a local
scheduler knows no dead workers) nor in other callers of `complete()`
(webmon, tests, `luigi.build`). It never stops a run: if luigid does not
answer, the worker's own RPCs report it.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import multiprocessing
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import luigi
import luigi.interface
import luigi.scheduler
from luigi.cmdline_parser import CmdlineParser
from luigi.rpc import URLLibFetcher
from luigi.task import flatten

from pipelines.runs.sweep import pid_alive

# luigi's console logger: where the luigi command line prints, and what the trigger daemon keeps as
# the run's output.
log = logging.getLogger("luigi-interface")

RPC_TIMEOUT = 5.0  # seconds; luigid answers a worker list in milliseconds
SILENT_AFTER = 10.0  # a worker on another host silent this long is taken for dead (live ones ping every second)

_checked = False  # once per process: the first complete() comes before any add_task

Rpc = Callable[..., Any]


@dataclass(frozen=True)
class Hold:
    """A task of the tick that a dead worker still holds RUNNING in luigid."""

    task: str  # as luigi prints it, e.g. FetchPages(crawl=demo, at=2026-11-21T0730)
    worker: str
    pid: int | None
    host: str | None
    why: str  # "its process is gone", "silent for 14 s"
    last_contact: datetime  # aware UTC
    delay: float  # this process's [scheduler] worker_disconnect_delay, seconds
    now: datetime

    @property
    def free_after(self) -> datetime:
        """Last contact + worker_disconnect_delay, rounded up to the second."""
        at = self.last_contact.timestamp() + self.delay
        return datetime.fromtimestamp(math.ceil(at), UTC)

    def sentence(self) -> str:
        who = f"pid {self.pid} on {self.host}" if self.pid is not None else self.worker
        when = (f"after {self.free_after:%Y-%m-%d %H:%M:%S} UTC" if self.free_after > self.now else
                f"once luigid's own worker_disconnect_delay has passed (longer than the {self.delay:g} s "
                f"this process reads)")
        return (f"{self.task} is still held in luigid by a dead worker ({who}, {self.why}; last contact "
                f"{self.last_contact:%Y-%m-%d %H:%M:%S} UTC): luigid lets it go [scheduler] "
                f"worker_disconnect_delay = {self.delay:g} s after that contact, so this tick can run again "
                f"{when}; this run will not run it.")


def before_scheduling(task: luigi.Task) -> None:
    """Called from our tasks' complete(): the first call in a luigi CLI process reclaims, once."""
    global _checked
    if _checked:
        return
    _checked = True
    url = scheduler_url()
    if url is None:
        return
    try:
        holds = reclaim(rpc_client(url), chain(task), now=datetime.now(UTC), host=socket.gethostname(),
                        delay=luigi.scheduler.scheduler().worker_disconnect_delay)
    except Exception as exc:  # noqa: BLE001 - luigid down or odd: the worker's own RPCs will say so
        log.debug("could not ask luigid to free tasks of dead workers: %s: %s", type(exc).__name__, exc)
        return
    sentences = [hold.sentence() for hold in holds]
    if sentences and multiprocessing.parent_process() is None:
        # Said when the process ends, after luigi's execution summary: the last line an operator
        # reads, and the line the trigger daemon takes as the run's reason.
        atexit.register(_say, sentences)
    elif sentences:
        _say(sentences)  # a pool process of parallel_scheduling: it ends without running atexit


def _say(sentences: list[str]) -> None:
    for sentence in sentences:
        log.warning(sentence)


def scheduler_url() -> str | None:
    """The luigid URL this luigi command line schedules with; None without one (local, or not the CLI)."""
    if CmdlineParser.get_instance() is None:
        return None
    core = luigi.interface.core()
    if core.local_scheduler:
        return None
    # As luigi.interface._schedule_and_run builds it.
    return str(core.scheduler_url or f"http://{core.scheduler_host}:{core.scheduler_port:d}/")


def rpc_client(url: str, timeout: float = RPC_TIMEOUT) -> Rpc:
    """call(method, **arguments) -> luigid's response: luigi's RPC wire format, one attempt, a short timeout.

    luigi.rpc.RemoteScheduler would retry for a minute (rpc-retry-attempts x rpc-retry-wait) before
    the worker's own first call does the same.
    """
    fetcher = URLLibFetcher()  # handles user:password@ in the URL like the worker's own client

    def call(method: str, **arguments: Any) -> Any:
        page = fetcher.fetch(f"{url.rstrip('/')}/api/{method}", {"data": json.dumps(arguments)}, timeout)
        return json.loads(page)["response"]

    return call


def chain(task: luigi.Task) -> dict[str, str]:
    """{task id: name as luigi prints it} of `task` and everything it requires."""
    seen: dict[str, luigi.Task] = {}
    todo = [task]
    while todo:
        current = todo.pop()
        if current.task_id in seen:
            continue
        seen[current.task_id] = current
        todo.extend(flatten(current.requires()))
    return {task_id: str(t) for task_id, t in seen.items()}


def reclaim(call: Rpc, tasks: Mapping[str, str], *, now: datetime, host: str, delay: float,
            alive: Callable[[int], bool] = pid_alive) -> list[Hold]:
    """Have luigid prune dead workers, then return the `tasks` ({id: name}) dead workers still hold.

    One RPC: luigid's worker_list prunes before it lists (luigi 3.8.1); a `prune` call of its own
    would cost luigid's one thread as much again (each about 15 ms with 50 workers and 1,000
    pending tasks, measured here).
    After worker_disconnect_delay the dead worker goes and its task becomes FAILED, which our
    add_task then makes PENDING.
    """
    holds: list[Hold] = []
    for worker in call("worker_list") or []:
        running = [task_id for task_id in (worker.get("running") or {}) if task_id in tasks]
        if not running:
            continue
        why = _dead(worker, now, host, alive)
        if why is None:
            continue  # alive elsewhere: luigi itself says "being run by another worker"
        last = datetime.fromtimestamp(float(worker["last_active"]), UTC)
        pid = _int(worker.get("pid"))
        for task_id in sorted(running):
            holds.append(Hold(task=tasks[task_id], worker=str(worker.get("name")),
                              pid=pid, host=worker.get("host"), why=why, last_contact=last, delay=delay, now=now))
    return holds


def _dead(worker: dict[str, Any], now: datetime, host: str, alive: Callable[[int], bool]) -> str | None:
    """Why this worker is dead, or None when it may be alive."""
    pid = _int(worker.get("pid"))
    if worker.get("host") == host and pid is not None:
        return None if alive(pid) else "its process is gone"
    silent = now.timestamp() - float(worker.get("last_active") or time.time())
    return f"silent for {silent:.0f} s" if silent > SILENT_AFTER else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class ReclaimFirst:
    """Mixin for a luigi task class: its first complete() in a process runs `before_scheduling`.

    `class CrawlTask(ReclaimFirst, luigi.Task)`: the task's own complete() is unchanged.
    """

    def complete(self) -> bool:
        before_scheduling(self)  # type: ignore[arg-type]
        return bool(super().complete())  # type: ignore[misc]
