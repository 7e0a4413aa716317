"""Log capture for the length of one task run: every record and printed line.

- A handler on the ROOT logger sees the records of every logger (the task's,
  luigi-interface's, urllib3's, requests', selenium's). luigi configures only
  its own loggers and leaves the root at WARNING, so the root level is
  lowered to `[runs] log_level` (INFO) during the run and put back after.
- sys.stdout and sys.stderr are replaced by tees: what the task prints still
  reaches the real stream, and each complete line is captured too (level
  STDOUT or STDERR). Lines a logging StreamHandler writes through a tee are
  not captured twice: the handler's record already was.
- Records that no other handler takes (no handler between their logger and
  the root) are echoed to the real stderr from `echo_level` up, so adding a
  root handler does not silence the console: Python's last-resort handler,
  and the console handler tasks set up only when the root has none, would
  have printed them.

Lines go to a `LogSink`, which numbers, batches, masks and stores them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
import traceback
from typing import IO, Any

from pipelines.runs.sink import LogSink

# Writes that come from a logging handler's emit() carry a record we capture anyway.
_HANDLER_CODES = frozenset({logging.StreamHandler.emit.__code__})
CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class CaptureHandler(logging.Handler):
    """Sends every record to the sink; echoes the unhandled ones to the console."""

    def __init__(self, sink: LogSink, level: int = logging.INFO, echo_level: int = logging.INFO) -> None:
        super().__init__(level)
        self.sink = sink
        self.echo_level = echo_level
        self._console = logging.StreamHandler(sys.__stderr__)
        self._console.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        # Logger name -> "another handler takes its records", found once per run: walking the
        # logger tree for every record costs as much as storing it. A handler added mid-run to a
        # logger already seen is noticed at the next run (until then, its lines may print twice).
        self._elsewhere: dict[str, bool] = {}

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        # Skips Handler.handle's lock: the sink has its own, and one lock per record is enough.
        if self.filters and not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        try:
            # A formatter that ran before us (the task's console handler) left the message on the record.
            message = record.__dict__.get("message") or record.getMessage()
            if record.exc_info or record.exc_text or record.stack_info:
                message = _with_traceback(record, message)
            self.sink.add(record.created, record.levelname, record.name, message)
            if record.levelno >= self.echo_level:
                elsewhere = self._elsewhere.get(record.name)
                if elsewhere is None:
                    elsewhere = self._elsewhere[record.name] = _handled_elsewhere(record.name, self)
                if not elsewhere:
                    self._console.handle(record)
        except Exception:  # noqa: BLE001 - logging must never break the task
            self.handleError(record)


def _with_traceback(record: logging.LogRecord, message: str) -> str:
    text = record.exc_text
    if not text and record.exc_info:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
    parts = [message] + [p for p in (text, record.stack_info) if p]
    return "\n".join(parts)


def _handled_elsewhere(name: str, ours: logging.Handler) -> bool:
    """True when a handler other than ours sits between the logger `name` and the root."""
    logger: logging.Logger | None = logging.root.manager.loggerDict.get(name)  # type: ignore[assignment]
    if not isinstance(logger, logging.Logger):
        logger = logging.root
    while logger is not None:
        for handler in logger.handlers:
            if handler is not ours:
                return True
        if not logger.propagate:
            return False
        logger = logger.parent
    return False


class StreamTee:
    """Writes through to a real stream and captures complete lines while attached."""

    def __init__(self, stream: IO[str], level: str, logger: str) -> None:
        self._stream = stream
        self._level, self._logger = level, logger
        self._sink: LogSink | None = None
        self._partial = ""
        self._lock = threading.Lock()

    def attach(self, sink: LogSink) -> None:
        self._sink = sink

    def detach(self) -> None:
        """Stop capturing; a line still waiting for its newline is captured as it is."""
        with self._lock:
            sink, self._sink = self._sink, None
            rest, self._partial = self._partial, ""
        if sink is not None and rest:
            sink.add(time.time(), self._level, self._logger, rest)

    def write(self, text: str) -> int:
        written = self._stream.write(text)
        if self._sink is not None and text and sys._getframe(1).f_code not in _HANDLER_CODES:
            self._capture(text)
        return written

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def _capture(self, text: str) -> None:
        with self._lock:
            sink = self._sink
            if sink is None:
                return
            text = self._partial + text
            lines = text.split("\n")
            self._partial = lines.pop()
        now = time.time()
        for line in lines:
            sink.add(now, self._level, self._logger, line.rstrip("\r"))

    def __getattr__(self, name: str) -> Any:
        # flush, fileno, isatty, encoding, buffer, ...: the real stream's.
        return getattr(self._stream, name)


class Capture:
    """Installs the root handler and the tees on `start`, removes them on `stop` (then closes the sink)."""

    def __init__(self, sink: LogSink, level: int = logging.INFO, echo_level: int = logging.INFO) -> None:
        self.sink = sink
        self.handler = CaptureHandler(sink, level, echo_level)
        self.level = level
        self._root_level = logging.root.level
        self._tees: list[tuple[str, StreamTee]] = []

    def start(self) -> None:
        root = logging.getLogger()
        self._root_level = root.level
        if root.level > self.level or root.level == logging.NOTSET:
            root.setLevel(self.level)
        root.addHandler(self.handler)
        for name, level in (("stdout", "STDOUT"), ("stderr", "STDERR")):
            stream = getattr(sys, name)
            if stream is None:
                continue
            tee = StreamTee(stream, level, name)
            tee.attach(self.sink)
            setattr(sys, name, tee)
            self._tees.append((name, tee))

    def stop(self) -> None:
        """Undo `start` and write the last lines; safe to call twice."""
        for name, tee in self._tees:
            if getattr(sys, name) is tee:
                setattr(sys, name, tee._stream)
            tee.detach()  # a handler made during the run may keep the tee: from now on it only writes through
        self._tees = []
        root = logging.getLogger()
        root.removeHandler(self.handler)
        root.setLevel(self._root_level)
        self.sink.close()
