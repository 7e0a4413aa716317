"""JSON lines for log shippers (Vector, Fluent Bit, Promtail, Filebeat).

One object a line: {ts, level, logger, message, task_id, run_id, family,
host, pid}. During a run the capture writes every record it captured here, in
batches, already masked: `[runs] json_log` names a file (appended, one
write() a batch, so lines of several workers never interleave mid-line), "-"
is stderr, empty is off.

`JsonFormatter` gives the same shape to an ordinary logging handler, for
anyone who wants JSON outside task runs (e.g. in a logging config file).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping, Sequence
from json.encoder import encode_basestring  # the C function json.dumps ends in, without its Python layers
from pathlib import Path
from typing import Any

_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


class Timestamps:
    """Unix time -> text, ISO 8601 UTC with milliseconds by default.

    strftime runs once per second, not once per line: the seconds part is
    reused while it lasts (a hot path when a task logs 100,000 lines).
    """

    def __init__(self, fmt: str = "%Y-%m-%dT%H:%M:%S", digits: int = 3, suffix: str = "Z") -> None:
        self._fmt, self._digits, self._suffix = fmt, digits, suffix
        self._scale = 10**digits
        self._second = -1
        self._prefix = ""

    def __call__(self, ts: float) -> str:
        second = int(ts)
        if second != self._second:
            self._second = second
            self._prefix = time.strftime(self._fmt, time.gmtime(second))
        return f"{self._prefix}.{int((ts - second) * self._scale):0{self._digits}d}{self._suffix}"


def bound_fields(fields: Mapping[str, Any]) -> str:
    """The fixed tail of every line of a run, serialised once: ',"task_id":...,"pid":123}'."""
    return "," + _dumps(dict(fields))[1:]


class JsonLines:
    """Builds the JSON line of one record: ts, level, logger, message, then the bound fields."""

    def __init__(self, fields: Mapping[str, Any]) -> None:
        self._tail = bound_fields(fields) + "\n"
        self._ts = Timestamps()
        self._heads: dict[tuple[str, str], str] = {}  # (level, logger) -> its encoded JSON, made once

    def line(self, ts: float, level: str, logger: str, message: str) -> str:
        return f'{{"ts":"{self._ts(ts)}",{self._head(level, logger)},"message":{encode_basestring(message)}{self._tail}'

    def lines(self, records: Sequence[tuple[Any, float, str, str, Any]], messages: Sequence[str]) -> list[str]:
        """The lines of a batch: records of (seq, unix time, level, logger, ...) with their final messages."""
        ts, head, tail, encode = self._ts, self._head, self._tail, encode_basestring
        return [f'{{"ts":"{ts(r[1])}",{head(r[2], r[3])},"message":{encode(m)}{tail}'
                for r, m in zip(records, messages, strict=True)]

    def _head(self, level: str, logger: str) -> str:
        head = self._heads.get((level, logger))
        if head is None:
            head = self._heads[(level, logger)] = f'"level":{encode_basestring(level)},"logger":{encode_basestring(logger)}'
        return head


class JsonFormatter(logging.Formatter):
    """A logging formatter that writes the JSON line of a record, with `fields` bound to every line."""

    def __init__(self, fields: Mapping[str, Any] | None = None) -> None:
        super().__init__()
        self._lines = JsonLines(fields or {})

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage()
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            message = f"{message}\n{record.exc_text}"
        return self._lines.line(record.created, record.levelname, record.name, message).rstrip("\n")


class JsonLogFile:
    """Where a run's JSON lines go: a file opened for append, or the process's real stderr.

    Opened by the task process, written by its log writer process (which inherits `fd`).
    """

    def __init__(self, target: str) -> None:
        if target == "-":
            # The real stderr, not sys.stderr: that may be the capture's tee, which would capture these lines again.
            self.fd = sys.__stderr__.fileno() if sys.__stderr__ is not None else 2
            self._owned = False
        else:
            path = Path(target)
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            self._owned = True

    def write(self, lines: list[str]) -> None:
        data = "".join(lines).encode("utf-8", "replace")
        while data:
            written = os.write(self.fd, data)
            data = data[written:]

    def close(self) -> None:
        if self._owned:
            os.close(self.fd)
