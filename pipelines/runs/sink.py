"""Where captured lines go: numbered and batched here, stored by a writer process.

`LogSink.add` is the hot path of log capture (every log record and printed
line of a task goes through it): it numbers the line and appends a tuple to a
list under a lock, nothing more. A full batch (`batch_lines`), or whatever is
pending every `batch_seconds` (a small flusher thread), is pickled into the
pipe of the run's writer process (pipelines/runs/writer.py), which masks and
stores it. When the writer falls behind, the pipe fills and the emitting
thread waits (back-pressure) instead of buffering without limit: memory stays
at a batch or two plus the pipe, whatever the task logs.

Batches are sent under the lock, so the writer stores them in seq order and
a reader polling "lines after N" never misses one that commits late.

A history-DB failure costs log lines, never the task: the writer reports on
stderr and counts them; a writer that is stuck for PUT_TIMEOUT or gone is
abandoned, and the lines from then on are counted as lost.
"""

from __future__ import annotations

import fcntl
import os
import select
import sys
import threading
import time
import weakref

from pipelines.runs.jsonlog import JsonLines, JsonLogFile
from pipelines.runs.masking import Masker
from pipelines.runs.writer import Line, encode_frame, read_frame, run_child

PUT_TIMEOUT = 60.0  # the longest an emitting thread waits for a stuck writer before giving up on it
PIPE_BYTES = 1 << 20
CLOSE_TIMEOUT = 120.0  # the longest a run's end waits for its last lines to be stored
_sinks: weakref.WeakSet[LogSink] = weakref.WeakSet()


def report(message: str) -> None:
    """Problems of the capture itself go to the real stderr, never through the capture."""
    stream = sys.__stderr__
    if stream is not None:
        stream.write(f"crawlops.runs: {message}\n")
        stream.flush()


class WriterGone(Exception):
    """Raised by `LogSink._send` when the writer process is stuck or dead; caught in LogSink."""


class LogSink:
    """The lines of one run: `add` from any thread, `close` once at the end."""

    def __init__(self, db_url: str, run_id: int, *, masker: Masker, batch_lines: int = 500,
                 batch_seconds: float = 1.0, max_lines: int = 100_000, json_lines: JsonLines | None = None,
                 json_file: JsonLogFile | None = None) -> None:
        self.run_id, self.batch_lines, self.max_lines = run_id, batch_lines, max_lines
        self._json = json_file is not None
        self._lock = threading.Lock()
        self._pending: list[Line] = []
        self._seq = 0
        self._disabled = False
        self._gone = False
        self.stored = 0  # rows in crawl_run_logs for this run (known once closed)
        self.lost = 0    # lines a DB failure or a stuck writer cost
        self._pid, self._send_fd, self._result_fd = self._fork(db_url, masker, json_lines, json_file)
        self._stop = threading.Event()
        self._flusher = threading.Thread(target=self._flush_every, args=(batch_seconds,),
                                         name=f"run-{run_id}-log-flusher", daemon=True)
        self._flusher.start()
        _sinks.add(self)

    def _fork(self, db_url: str, masker: Masker, json_lines: JsonLines | None,
              json_file: JsonLogFile | None) -> tuple[int, int, int]:
        lines_r, lines_w = os.pipe()
        result_r, result_w = os.pipe()
        keep = {json_file.fd} if json_file is not None else set()
        pid = os.fork()
        if pid == 0:
            run_child(lines_r, result_w, keep, db_url, self.run_id, masker, self.max_lines, json_lines, json_file)
        os.close(lines_r)
        os.close(result_w)
        os.set_blocking(lines_w, False)  # so a stuck writer costs at most PUT_TIMEOUT, not the task
        _grow_pipe(lines_w)
        return pid, lines_w, result_r

    @property
    def over_cap(self) -> int:
        return max(0, self._seq - self.max_lines)

    def add(self, ts: float, level: str, logger: str, message: str) -> None:
        """Number a line and queue it; blocks only while the writer is a full pipe behind."""
        if self._disabled:  # read before the lock: in a forked child the lock may be held forever
            return
        with self._lock:
            if self._disabled:
                return
            self._seq += 1
            if self._seq > self.max_lines and not self._json:
                return  # over the cap and nobody else wants it: only the count matters
            self._pending.append((self._seq, ts, level, logger, message))
            if len(self._pending) >= self.batch_lines:
                self._send_pending()

    def _send_pending(self) -> None:
        # Called with the lock held, so batches enter the pipe in seq order.
        batch, self._pending = self._pending, []
        if self._gone:
            self.lost += len(batch)
            return
        try:
            self._send(encode_frame(batch))
        except WriterGone as exc:
            self._gone = True
            self.lost += len(batch)
            report(f"run {self.run_id}: {exc}; its log lines from now on are not stored")

    def _send(self, frame: bytes) -> None:
        view = memoryview(frame)
        deadline = time.monotonic() + PUT_TIMEOUT
        while view:
            try:
                view = view[os.write(self._send_fd, view):]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [self._send_fd], [], left)[1]:
                    raise WriterGone(f"the log writer took more than {PUT_TIMEOUT:.0f} s") from None
            except OSError as exc:  # EPIPE: the writer died
                raise WriterGone(f"the log writer is gone ({exc.strerror})") from None

    def _flush_every(self, seconds: float) -> None:
        while not self._stop.wait(seconds):
            with self._lock:
                if self._pending and not self._disabled:
                    self._send_pending()

    def close(self) -> None:
        """Send what is left, let the writer store it (and the 'truncated' line), read its counts."""
        self._stop.set()
        with self._lock:
            if self._disabled:
                return
            self._disabled = True
            if self._pending:
                self._send_pending()
            if not self._gone:
                try:
                    self._send(encode_frame(("close", self.over_cap)))
                except WriterGone as exc:
                    self._gone = True
                    report(f"run {self.run_id}: {exc}")
        result = None
        if not self._gone and select.select([self._result_fd], [], [], CLOSE_TIMEOUT)[0]:
            result = read_frame(self._result_fd)
        if result is None:
            report(f"run {self.run_id}: the log writer did not report; stopping it")
            _kill(self._pid)
        else:
            self.stored, lost = result
            self.lost += lost
        for fd in (self._send_fd, self._result_fd):
            os.close(fd)
        _reap(self._pid)
        if self._flusher is not threading.current_thread():
            self._flusher.join(5)

    def disable(self) -> None:
        """Forget everything from now on (a forked child: the writer belongs to its parent)."""
        self._disabled = True


def _grow_pipe(fd: int) -> None:
    """Let the task run ahead of its writer by PIPE_BYTES (kernel memory, not the task's) before it waits.

    The default 64 KiB holds under two batches: every commit of the writer would stall the task.
    """
    try:
        fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_BYTES)
    except (AttributeError, OSError):
        pass  # not Linux, or above /proc/sys/fs/pipe-max-size: the default size still works


def _kill(pid: int) -> None:
    try:
        os.kill(pid, 9)
    except ProcessLookupError:
        pass


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _disable_in_child() -> None:
    for sink in list(_sinks):
        sink.disable()


os.register_at_fork(after_in_child=_disable_in_child)
