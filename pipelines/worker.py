"""The luigi worker our command lines run: luigi's own, plus rejoining a luigid that forgot it.

luigid holds in memory which tasks are pending for which worker. It loses that
for a worker when it was killed (SIGKILL, a crash, a reboot: a restarted
luigid starts empty, or from the state it pickled at its last clean stop) or
when it dropped the worker for silence (`[scheduler] worker_disconnect_delay`
passed without a word from it, e.g. luigid down longer than that: nothing
reaches it, and the pickled state it reloads has the worker's last contact
from before the stop; its first prune, which luigid's own task_list and
worker_list run too, drops the worker). The worker's running task goes on and
luigid takes its DONE, but then a stock worker asks for work, gets none
(luigid knows no pending task of it) and leaves with the rest of its tick not
run: exit 25, "not granted run permission".

`RejoiningWorker` acts in exactly that situation: luigid gives no task,
counts none pending and none running for this worker, nothing runs here, and
yet tasks this worker scheduled neither ended here nor are complete. It then
logs one warning, tells luigid again who it is (`add_worker`: host, pid,
first task) and what it wants (luigi's own `add()` of each task it was given:
complete ones as DONE, the rest PENDING with their dependencies) and asks for
work again. At most once per stretch of work: if that brings no task either,
it leaves as luigi would.

`install()` (run when the `pipelines` package is imported, as `python -m
luigi --module pipelines...` does before it builds its worker) makes luigi's
default worker factory build this class. It also stops luigi warning
"UnconsumedParameterWarning: ... 'rpc_retry_wait' ... not consumed by the task
'core'" at every command: luigi.rpc reads the `[core] rpc_*` keys that
luigi.cfg sets straight from the config, and luigi's `core` class does not
declare them.
"""

from __future__ import annotations

import logging
from typing import Any

import luigi
import luigi.interface
import luigi.worker
from luigi.scheduler import DONE, FAILED, PENDING, WORKER_STATE_DISABLED

log = logging.getLogger("luigi-interface")  # where the luigi command line prints

# [core] keys luigi.rpc.RemoteScheduler reads itself (luigi 3.8.1), unknown to luigi.interface.core.
RPC_KEYS = frozenset({"rpc_connect_timeout", "rpc_retry_attempts", "rpc_retry_wait", "rpc_log_retries"})


class RejoiningWorker(luigi.worker.Worker):
    """luigi.worker.Worker that schedules its tasks again when luigid has forgotten them."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wanted: dict[str, luigi.Task] = {}  # every task given to add(), in order
        self._rejoined = False  # since the last task luigid gave this worker
        self.rejoins = 0

    def add(self, task: luigi.Task, multiprocess: bool = False, processes: int = 0) -> bool:
        self._wanted.setdefault(task.task_id, task)
        return bool(super().add(task, multiprocess, processes))

    def _get_work(self) -> Any:
        response = super()._get_work()
        if response.task_id is not None:
            self._rejoined = False
            return response
        if (self._rejoined or self._assistant or self._stop_requesting_work or self._running_tasks
                or response.n_pending_tasks or response.running_tasks
                or response.worker_state == WORKER_STATE_DISABLED):
            return response
        waiting = self.forgotten()
        if not waiting:
            return response
        self._rejoined = True
        self.rejoins += 1
        names = ", ".join(str(task) for task in waiting[:4]) + (f" and {len(waiting) - 4} more" if len(waiting) > 4 else "")
        log.warning("luigid has no pending task for this worker, yet %d task(s) it scheduled are not done (%s): "
                    "luigid was restarted without its state, or dropped this worker after [scheduler] "
                    "worker_disconnect_delay without contact. Scheduling them again.", len(waiting), names)
        self._add_worker()
        for task in list(self._wanted.values()):
            self.add(task)
        return super()._get_work()

    def forgotten(self) -> list[luigi.Task]:
        """Tasks this worker told luigid were PENDING (to run here) that did not end here and are not complete."""
        ended = {task.task_id for task, status, _ in self._add_task_history if status in (DONE, FAILED)}
        waiting: dict[str, luigi.Task] = {}
        for task, status, runnable in self._add_task_history:
            if status == PENDING and runnable and task.task_id not in ended:
                waiting.setdefault(task.task_id, task)
        return [task for task in waiting.values() if not _complete(task)]


def _complete(task: luigi.Task) -> bool:
    try:
        return bool(task.complete())
    except Exception:  # noqa: BLE001 - add() reports it as luigi does; here it only means "not done"
        return False


def _create_worker(self: Any, scheduler: Any, worker_processes: int, assistant: bool = False) -> RejoiningWorker:
    return RejoiningWorker(scheduler=scheduler, worker_processes=worker_processes, assistant=assistant)


def install() -> None:
    """Make luigi's default worker factory (the luigi command line, luigi.build) build RejoiningWorker;
    let [core] hold the rpc_* keys without a warning."""
    luigi.interface._WorkerSchedulerFactory.create_worker = _create_worker  # type: ignore[method-assign]
    core = luigi.interface.core
    core.ignore_unconsumed = set(getattr(core, "ignore_unconsumed", set())) | RPC_KEYS  # type: ignore[attr-defined]
