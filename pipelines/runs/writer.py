"""The log writer process: masks captured lines and stores them, off the task's GIL.

`LogSink` forks one writer per run and sends it batches of lines through a
pipe. The writer masks each line, inserts the batch (merging what queued up
into one transaction), appends the JSON lines, and at the end writes the
"truncated" line and reports its counts back.

Why a process and not a thread: a writer thread needs the GIL for every line
it masks and binds, and a task that logs to a console releases the GIL on
every line's write(); each release then wakes the writer, and the two threads
hand the GIL back and forth tens of thousands of times (measured: 56,000
context switches and 2.2x the task's time for 100,000 lines). In its own
process the writer runs on another core and the task only pays for queueing.

Protocol, both ways: frames of a 4-byte big-endian length and a pickle.
To the writer: a list of lines, or ("close", over_cap); back: (stored, lost).
The writer also ends when the pipe closes (the task process died): it stores
what it has first, so a SIGKILLed task keeps its log up to the kill.
"""

from __future__ import annotations

import os
import pickle
import select
import signal
import struct
import time
from typing import Any

from pipelines.runs.jsonlog import JsonLines, JsonLogFile
from pipelines.runs.logrows import LogRows, Row
from pipelines.runs.masking import Masker
from pipelines.runs.records import new_engine

Line = tuple[int, float, str, str, str]  # seq, unix time, level, logger, message (not yet masked)
MAX_LINE_BYTES = 1 << 20
_HEADER = struct.Struct("!I")
# Batches that arrive within MERGE_WAIT of each other share one transaction (a commit costs about
# as much as inserting 500 rows), up to MERGE_FRAMES of them: that bounds the writer's memory.
MERGE_FRAMES = 8
MERGE_WAIT = 0.02
_MORE = object()
NICE = 10


def cut_line(message: str) -> str:
    """A single line is kept whole up to 1 MiB (UTF-8), then cut with a marker."""
    if len(message) <= MAX_LINE_BYTES // 4:  # 4 bytes per character at most: certainly short enough
        return message
    data = message.encode("utf-8", "replace")
    if len(data) <= MAX_LINE_BYTES:
        return message
    kept = data[:MAX_LINE_BYTES].decode("utf-8", "ignore")
    return f"{kept} ... [line cut: {len(data) - MAX_LINE_BYTES:,} more bytes not stored]"


def encode_frame(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


def read_frame(fd: int) -> Any:
    """The next message on `fd`, or None at end of file (also mid-frame: the sender died)."""
    header = _read_exactly(fd, _HEADER.size)
    if header is None:
        return None
    data = _read_exactly(fd, _HEADER.unpack(header)[0])
    return None if data is None else pickle.loads(data)


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _say(message: str) -> None:
    # os.write, not sys.stderr: the child must not flush a copy of the parent's buffers.
    try:
        os.write(2, f"crawlops.runs: {message}\n".encode("utf-8", "replace"))
    except OSError:
        pass


class Writer:
    """What the child does with lines; a plain object so tests can drive it without a fork."""

    def __init__(self, rows: LogRows, masker: Masker, max_lines: int, json_lines: JsonLines | None = None,
                 json_file: JsonLogFile | None = None) -> None:
        self.rows, self.mask, self.max_lines = rows, masker, max_lines
        self.json_lines, self.json_file = (json_lines, json_file) if json_file is not None else (None, None)
        self.stored = 0
        self.lost = 0
        self._errors = 0

    def write(self, lines: list[Line]) -> None:
        # Whole-batch steps (one mask pre-check, one length check): per-line Python is what this costs.
        messages = self.mask.many([line[4] for line in lines])
        if max(map(len, messages)) > MAX_LINE_BYTES // 4:
            messages = [cut_line(m) for m in messages]
        if self.json_lines is not None:
            try:
                self.json_file.write(self.json_lines.lines(lines, messages))  # type: ignore[union-attr]
            except OSError as exc:
                self._failed(len(lines), f"could not write JSON log lines: {exc}", lost=False)
        max_lines = self.max_lines
        rows = [(line[0], line[1], line[2], line[3], message)
                for line, message in zip(lines, messages, strict=True) if line[0] <= max_lines]
        if rows:
            self.insert(rows)

    def insert(self, rows: list[Row]) -> None:
        try:
            self.rows.insert(rows)
            self.stored += len(rows)
        except Exception as exc:  # noqa: BLE001 - the task's work matters more than its log
            # Not str(exc): SQLAlchemy's message repeats every parameter of the batch.
            detail = str(getattr(exc, "orig", None) or exc)[:300]
            self._failed(len(rows), f"could not store log lines: {type(exc).__name__}: {detail}")

    def truncated(self, over_cap: int, ts: float) -> None:
        """The one line that says how many were not stored; numbered right after the last stored one."""
        self.insert([(self.max_lines + 1, ts, "WARNING", "crawlops.runs",
                      f"... truncated: {over_cap:,} more lines not stored")])

    def _failed(self, lines: int, message: str, *, lost: bool = True) -> None:
        if lost:
            self.lost += lines
        self._errors += 1
        if self._errors <= 3 or self._errors % 100 == 0:  # say it, without flooding stderr
            _say(f"run {self.rows.run_id}: {message} ({lines} lines; failure #{self._errors})")


def serve(writer: Writer, read_fd: int, result_fd: int) -> None:
    """The child's loop: batches in, rows out, until ("close", n) or end of file."""
    while True:
        message = read_frame(read_fd)
        lines: list[Line] = []
        frames = 0
        while isinstance(message, list):
            lines += message
            frames += 1
            if frames >= MERGE_FRAMES or not select.select([read_fd], [], [], MERGE_WAIT)[0]:
                message = _MORE
                break
            message = read_frame(read_fd)
        if lines:
            writer.write(lines)
        if message is _MORE:
            continue
        if isinstance(message, tuple) and message[0] == "close":
            if message[1]:
                writer.truncated(message[1], time.time())
            os.write(result_fd, encode_frame((writer.stored, writer.lost)))
        return  # closed, or end of file: the task process is gone


def run_child(read_fd: int, result_fd: int, keep_fds: set[int], db_url: str, run_id: int, masker: Masker,
              max_lines: int, json_lines: JsonLines | None, json_file: JsonLogFile | None) -> None:
    """Entry point right after fork(); never returns."""
    code = 0
    try:
        # The task's Ctrl-C or SIGTERM must not cost its last lines: the writer ends when the pipe closes.
        for signum in (signal.SIGINT, signal.SIGTERM):
            try:
                signal.signal(signum, signal.SIG_IGN)
            except ValueError:
                pass  # forked from a thread other than the main one: signal.signal is not allowed there
        # On a busy machine the task comes first; a writer that falls behind fills the pipe and
        # then slows the task down (back-pressure), so it cannot fall behind without limit.
        os.nice(NICE)
        _close_other_fds(keep_fds | {0, 1, 2, read_fd, result_fd})
        engine = new_engine(db_url)
        serve(Writer(LogRows(engine, run_id), masker, max_lines, json_lines, json_file), read_fd, result_fd)
        engine.dispose()
    except BaseException as exc:  # noqa: BLE001 - report and leave; nothing here may reach the parent's code
        _say(f"run {run_id}: log writer failed: {type(exc).__name__}: {str(exc)[:300]}")
        code = 1
    finally:
        os._exit(code)  # no atexit handlers, no flushing of the parent's copied buffers


def _close_other_fds(keep: set[int]) -> None:
    # Inherited pipes and sockets would keep other processes waiting for an EOF until this one ends.
    low = 3
    for fd in sorted(k for k in keep if k >= 3):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))
