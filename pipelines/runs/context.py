"""RunContext: a run record and log capture around every task attempt.

Enabled in luigi.cfg (luigi calls `with RunContext(task_process): task_process.run()`):

    [worker]
    task_process_context = pipelines.runs.context.RunContext

On enter: sweep dead runs, insert a `running` record (attempt = 1 + earlier
records of the task_id), start the heartbeat, start log capture, record the
task's direct requirements and CRAWLOPS_SCHEDULED_RUN (crawl_run_deps, see
deps.py), and point luigid's tracking URL at `{[runs] webmon_url}/runs/{run_id}/`. On exit: stop
capture (the last lines are written), then record the outcome, the error
(type, message, whole traceback, masked) and the stage's `run_stats`.

First of all, the task's status reporter is replaced by a StatusRelay
(status.py): status messages and progress go to luigid from
a thread of their own, so a luigid that is away (restarted) neither stalls the
task nor fails it; on exit the relay is flushed (a few seconds at most).

luigi's TaskProcess.run catches the task's exception itself, so the outcome
comes from the task's SUCCESS / FAILURE events, not from __exit__.

The history DB is never allowed to fail a task: every problem with it is
reported on stderr and the task runs on without a record (or without logs).
"""

from __future__ import annotations

import inspect
import json
import logging
import os
import socket
import threading
import traceback
from typing import Any

import luigi

from pipelines.runs import deps, records
from pipelines.runs.capture import Capture
from pipelines.runs.jsonlog import JsonLines, JsonLogFile
from pipelines.runs.masking import Masker, env_secrets, url_passwords
from pipelines.runs.models import DONE, FAILED, KILLED
from pipelines.runs.settings import history_url, runs, validate
from pipelines.runs.sink import LogSink, report
from pipelines.runs.status import StatusRelay
from pipelines.runs.sweep import sweep

_active: dict[int, RunContext] = {}  # id(task) -> its context, for the event handlers


class RunContext:
    """luigi's task_process_context: one run record (and its log lines) per task attempt."""

    def __init__(self, task_process: Any) -> None:
        self.process = task_process
        self.task: luigi.Task = task_process.task
        self.run_id: int | None = None
        self.attempt: int | None = None
        self.tracking_url: str | None = None
        self.succeeded = False
        self.error: BaseException | None = None
        self._engine: Any = None
        self._masker = Masker()
        self._capture: Capture | None = None
        self._json_file: JsonLogFile | None = None
        self._stop_beat = threading.Event()
        self._beat: threading.Thread | None = None
        self._relay: StatusRelay | None = None

    def __enter__(self) -> RunContext:
        # Before anything else, and whatever the history DB does: luigi forwards the reporter's
        # methods to the task only inside run(), after this.
        self._relay = StatusRelay(self.process.status_reporter)
        self.process.status_reporter = self._relay
        try:
            self._start()
        except Exception as exc:  # noqa: BLE001 - the task runs even when its record cannot be written
            report(f"no run record for {self.task.task_id}: {type(exc).__name__}: {exc}")
            self._stop_threads()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: Any) -> bool:
        try:
            self._finish(exc)
        except Exception as error:  # noqa: BLE001
            report(f"could not finish the run record {self.run_id} of {self.task.task_id}: "
                   f"{type(error).__name__}: {error}")
        finally:
            _active.pop(id(self.task), None)
            if self._relay is not None and not self._relay.close():
                report(f"{self.task.task_id}: luigid did not take its last status within "
                       f"{self._relay.flush_seconds:g} s; it is sent when luigid answers")
        return False  # never swallow what luigi raises (KeyboardInterrupt)

    # -- enter ----------------------------------------------------------------------

    def _start(self) -> None:
        settings = validate(runs())
        task = self.task
        self._engine = engine = records.engine_for(history_url())
        now = records.utcnow()
        try:
            sweep(engine, now, settings.dead_after_seconds)
        except Exception as exc:  # noqa: BLE001 - a failed sweep must not cost this run its record
            report(f"sweep failed: {type(exc).__name__}: {exc}")
        self._masker = masker = Masker(env_secrets() + url_passwords(_proxies(task)))
        params = json.dumps(masker.mask_mapping(task.to_str_params(only_public=True)), sort_keys=True)
        # A task without a `crawl` parameter may name the crawl it counts under (ScrapySpider: its spider).
        crawl = task.param_kwargs.get("crawl", getattr(task, "run_crawl", None))
        host, pid = socket.gethostname(), os.getpid()
        task.__dict__.pop("run_stats", None)  # a rerun of the same instance must not report old counters
        self.run_id, self.attempt = records.create_run(
            engine, task_id=task.task_id, family=task.task_family, crawl=str(crawl) if crawl is not None else None,
            params=params, host=host, pid=pid, worker=getattr(self.process, "worker_id", None), now=now)
        _active[id(task)] = self

        try:
            self._start_capture(settings, masker, host, pid)
        except Exception as exc:  # noqa: BLE001 - without capture the task still runs, and gets its record
            report(f"no log capture for run {self.run_id}: {type(exc).__name__}: {exc}")
        # After the capture's fork: the writer process starts with no other thread of ours running.
        self._beat = threading.Thread(target=self._beat_loop, args=(settings.heartbeat_seconds,),
                                      name=f"run-{self.run_id}-heartbeat", daemon=True)
        self._beat.start()
        self._record_deps()

        self.tracking_url = f"{str(settings.webmon_url).rstrip('/')}/runs/{self.run_id}/"
        self.process.status_reporter.update_tracking_url(self.tracking_url)  # sent now (status.py says why)

    def _record_deps(self) -> None:
        """The dependency record; requires() failing or hanging costs the run only this record."""
        try:
            scheduled = deps.scheduled_run()
        except ValueError as exc:
            report(f"run {self.run_id}: {exc}; recorded without its scheduled run")
            scheduled = None
        try:
            requires = deps.requirements(self.task)
            records.record_deps(self._engine, self.run_id, requires=requires,  # type: ignore[arg-type]
                                scheduled_run=scheduled, worker=getattr(self.process, "worker_id", None))
        except Exception as exc:  # noqa: BLE001 - the task runs without a dependency record
            report(f"no dependency record for run {self.run_id} of {self.task.task_id}: {type(exc).__name__}: {exc}")

    def _start_capture(self, settings: runs, masker: Masker, host: str, pid: int) -> None:
        task = self.task
        json_lines = None
        if settings.json_log:
            self._json_file = JsonLogFile(settings.json_log)
            json_lines = JsonLines({"task_id": task.task_id, "run_id": self.run_id, "family": task.task_family,
                                    "host": host, "pid": pid})
        sink = LogSink(history_url(), self.run_id, masker=masker,  # type: ignore[arg-type]
                       batch_lines=settings.log_batch_lines, batch_seconds=settings.log_batch_seconds,
                       max_lines=settings.log_max_lines, json_lines=json_lines, json_file=self._json_file)
        # Echo unhandled records to the console from the level luigi's own console output uses.
        echo_level = logging.getLogger("luigi-interface").getEffectiveLevel()
        self._capture = Capture(sink, _level(settings.log_level), echo_level)
        self._capture.start()

    def _beat_loop(self, interval: float) -> None:
        while not self._stop_beat.wait(interval):
            try:
                records.beat(self._engine, self.run_id, records.utcnow())  # type: ignore[arg-type]
            except Exception as exc:  # noqa: BLE001 - try again at the next beat
                report(f"heartbeat of run {self.run_id} failed: {type(exc).__name__}: {exc}")

    # -- exit -----------------------------------------------------------------------

    def _finish(self, exc: BaseException | None) -> None:
        self._stop_threads()
        capture, self._capture = self._capture, None
        if capture is not None:
            try:
                capture.stop()
            except Exception as error:  # noqa: BLE001 - the record still gets its outcome below
                report(f"could not stop log capture of run {self.run_id}: {type(error).__name__}: {error}")
        if self._json_file is not None:
            self._json_file.close()
            self._json_file = None
        if self.run_id is None:
            return
        status, error = self._outcome(exc)
        masker = self._masker
        fields: dict[str, Any] = {}
        if error is not None:
            fields = {"error_type": qualified_name(type(error)), "error_message": masker(str(error)),
                      "traceback": masker("".join(traceback.format_exception(error)))}
        stats = getattr(self.task, "run_stats", None)
        if stats is None and status == DONE and not self.succeeded and _yields(self.task):
            stats = {"outcome": "run() yielded new requirements; it runs again when they are done"}
        records.finish(
            self._engine, self.run_id, status=status, now=records.utcnow(),
            stats=masker(json.dumps(stats, sort_keys=True, default=str)) if stats is not None else None,
            log_lines=capture.sink.stored if capture is not None else 0,
            log_truncated=bool(capture is not None and capture.sink.over_cap), **fields,
        )

    def _outcome(self, exc: BaseException | None) -> tuple[str, BaseException | None]:
        if self.error is not None:
            return FAILED, self.error
        if exc is not None:  # only what TaskProcess.run lets through: KeyboardInterrupt
            return (KILLED if isinstance(exc, KeyboardInterrupt) else FAILED), exc
        if self.succeeded:
            return DONE, None
        # No event: run() yielded new requirements (luigi runs it again when they are done), or
        # luigi only checked an external task.
        if _yields(self.task):
            return DONE, None
        try:
            if self.task.complete():
                return DONE, None
        except Exception as error:  # noqa: BLE001 - its own failure is the outcome
            return FAILED, error
        return FAILED, RuntimeError("the task ended without an outcome and its output is not complete")

    def _stop_threads(self) -> None:
        self._stop_beat.set()
        if self._beat is not None and self._beat is not threading.current_thread():
            self._beat.join(5)
        self._beat = None


def qualified_name(cls: type) -> str:
    """builtins.ValueError -> ValueError; pipelines.exceptions.SpecError stays whole."""
    return cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"


def _level(name: str) -> int:
    level = logging.getLevelName(str(name).upper())
    if not isinstance(level, int):
        raise ValueError(f"[runs] log_level must be DEBUG, INFO, WARNING, ERROR or CRITICAL, got {name!r}")
    return level


def _proxies(task: luigi.Task) -> list[str]:
    """The crawl's proxy URLs, so their passwords are masked even where they appear alone."""
    if "crawl" not in task.param_kwargs or not hasattr(type(task), "spec"):
        return []
    try:
        return list(task.spec.fetch.proxies)  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - a broken spec fails the task itself, with its own message
        return []


def _yields(task: luigi.Task) -> bool:
    return inspect.isgeneratorfunction(type(task).run)


@luigi.Task.event_handler(luigi.Event.SUCCESS)
def _on_success(task: luigi.Task) -> None:
    context = _active.get(id(task))
    if context is not None:
        context.succeeded = True


@luigi.Task.event_handler(luigi.Event.FAILURE)
def _on_failure(task: luigi.Task, exception: BaseException) -> None:
    context = _active.get(id(task))
    if context is not None:
        context.error = exception
