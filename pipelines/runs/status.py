"""StatusRelay: a task's status message and progress reach luigid from a thread of their own.

luigi's TaskStatusReporter makes each `set_status_message` /
`set_progress_percentage` / `set_tracking_url` a blocking RPC inside the
task's run(). While luigid is away (restarted, say) every such call waits
through luigi's retries (`[core] rpc_retry_attempts` x `rpc_retry_wait`) and
then raises RPCError: FetchPages, which reports progress every 2 s from its
crawl loop, stopped fetching for the whole outage and failed when it lasted
longer than the retries.

RunContext puts a StatusRelay in the reporter's place for each attempt. The
task's calls only record the latest value of each (newer replaces older; a
status line is worth sending only while it is the latest) and return at once;
one thread sends them, message before progress, through
the worker's own luigid client (same retries). A send that still fails is
logged once per outage and tried again with the latest values. `close()` at
the end of the attempt waits (at most `flush_seconds`) until what is left has
been sent, so luigid shows the task's last message when the worker reports it
done; after that the thread goes on alone, and dies with the process.
`decrease_running_resources`, `report_task_statistics` and the tracking URL
stay synchronous: luigi sends a tracking URL as add_task(status=RUNNING),
which must never reach luigid after the task's DONE.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

log = logging.getLogger("luigi-interface")

FLUSH_SECONDS = 5.0
PAUSE_AFTER_FAILURE = 1.0  # seconds; the client has already waited through its retries
_FIELDS = ("message", "percent")


class StatusRelay:
    """Stands in for luigi's TaskStatusReporter (the attributes luigi forwards to the task)."""

    def __init__(self, reporter: Any, flush_seconds: float = FLUSH_SECONDS) -> None:
        self._reporter = reporter
        self.scheduler_messages = reporter.scheduler_messages
        self.flush_seconds = flush_seconds
        self._pending: dict[str, Any] = {}
        self._busy = False
        self._failing = False
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    # -- what luigi forwards to the task --------------------------------------------------

    def update_tracking_url(self, tracking_url: str) -> None:
        """Sent now, from the task's own thread, never later: luigi sends a tracking URL as
        add_task(status=RUNNING), so one arriving after the worker reported the task DONE would make it
        RUNNING again, and luigid hands a RUNNING task its worker does not run back to that worker (a
        second run, seen with --workers 2, where the child's context ends after the parent reported).
        A failure is logged, and the task goes on."""
        try:
            self._reporter.update_tracking_url(tracking_url)
        except Exception as exc:  # noqa: BLE001 - luigid away: the link is missing in luigid, nothing else
            log.warning("could not send this task's tracking URL to luigid (%s: %s); the task goes on",
                        type(exc).__name__, exc)

    def update_status_message(self, message: str) -> None:
        self._put("message", message)

    def update_progress_percentage(self, percentage: int) -> None:
        self._put("percent", percentage)

    def decrease_running_resources(self, decrease_resources: dict[str, int]) -> None:
        self._reporter.decrease_running_resources(decrease_resources)

    def report_task_statistics(self, statistics: dict[str, Any]) -> None:
        self._reporter.report_task_statistics(statistics)

    # -- the sender -----------------------------------------------------------------------

    def close(self) -> bool:
        """Wait until everything recorded has been sent, at most flush_seconds; True if it was."""
        deadline = time.monotonic() + self.flush_seconds
        with self._cond:
            while self._pending or self._busy:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def _put(self, field: str, value: Any) -> None:
        with self._cond:
            self._pending[field] = value
            if self._thread is None:  # started by the first call: after RunContext's capture has forked
                self._thread = threading.Thread(target=self._loop, name="luigid-status", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._pending:
                    self._cond.wait()
                batch, self._pending = self._pending, {}
                self._busy = True
            try:
                self._send(batch)
            except Exception as exc:  # noqa: BLE001 - luigid away: the task goes on, the latest is sent later
                with self._cond:
                    self._pending = {**batch, **self._pending}  # newer values recorded meanwhile win
                if not self._failing:
                    log.warning("could not send this task's status to luigid (%s: %s); the task goes on and "
                                "the latest status is sent when luigid answers", type(exc).__name__, exc)
                self._failing = True
                time.sleep(PAUSE_AFTER_FAILURE)
            else:
                if self._failing:
                    log.info("luigid answers again: this task's status is sent")
                self._failing = False
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _send(self, batch: dict[str, Any]) -> None:
        for field in _FIELDS:
            if field not in batch:
                continue
            value = batch.pop(field)
            try:
                if field == "message":
                    self._reporter.update_status_message(value)
                else:
                    self._reporter.update_progress_percentage(value)
            except Exception:
                batch[field] = value  # this one and the rest are kept for the next try
                raise
