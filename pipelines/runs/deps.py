"""What a run's task requires, for its dependency record (crawl_run_deps).

RunContext asks `requirements(task)` when the run record is created: the
task's direct requirements, `luigi.task.flatten(task.requires())`, as
{"task_id", "family"} pairs. requires() is user code: it may raise, return
things that are not tasks, or hang on a slow lookup. It runs in a thread of
its own for at most REQUIRES_SECONDS; whatever goes wrong becomes
DepsUnavailable, which RunContext reports on stderr, and the task runs on
without a dependency record. Requirements a task yields from run() (dynamic
dependencies) are not in requires(): they are not recorded.

The trigger daemon sets CRAWLOPS_SCHEDULED_RUN (its ScheduledRun pk) in the
environment of the runs it starts; `scheduled_run()` reads it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import luigi
from luigi.task import flatten

REQUIRES_SECONDS = 10.0
SCHEDULED_RUN_ENV = "CRAWLOPS_SCHEDULED_RUN"


class DepsUnavailable(Exception):
    """Raised by `requirements` (requires() failed or was too slow); RunContext reports it and goes on."""


def requirements(task: luigi.Task, timeout: float = REQUIRES_SECONDS) -> list[dict[str, str]]:
    """The task's direct requirements as [{"task_id", "family"}], in requires() order, without repeats."""
    result: dict[str, Any] = {}

    def ask() -> None:
        try:
            result["value"] = flatten(task.requires())
        except BaseException as exc:  # noqa: BLE001 - reported by the caller, never raised into the task
            result["error"] = exc

    thread = threading.Thread(target=ask, name=f"requires-{task.task_family}", daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        raise DepsUnavailable(f"requires() did not answer within {timeout:g} s")
    if "error" in result:
        error = result["error"]
        raise DepsUnavailable(f"requires() raised {type(error).__name__}: {error}")
    seen: set[str] = set()
    out = []
    for dep in result["value"]:
        if not isinstance(dep, luigi.Task):
            raise DepsUnavailable(f"requires() returned {type(dep).__name__}, not a luigi task")
        if dep.task_id not in seen:
            seen.add(dep.task_id)
            out.append({"task_id": dep.task_id, "family": dep.task_family})
    return out


def scheduled_run(environ: dict[str, str] | None = None) -> int | None:
    """The ScheduledRun pk the trigger daemon passed, or None (a run started by hand).

    Raises ValueError with a sentence for a value that is not a positive whole number.
    """
    raw = (os.environ if environ is None else environ).get(SCHEDULED_RUN_ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) <= 0 or int(raw) >= 2**31:
        raise ValueError(f"{SCHEDULED_RUN_ENV} must be a ScheduledRun id (a positive whole number), got {raw[:40]!r}")
    return int(raw)
