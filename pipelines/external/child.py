"""One external command run from a task: its own process group, its lines logged live, its end mapped.

- The command starts under leash.py in a new session (its own process
  group): the daemon's SIGTERM to the worker's group does not reach it
  directly, and stopping it means stopping its whole group, grandchildren too.
  leash.py, the group's leader, stops the group when the task process dies,
  so a hard-killed worker leaves nothing of the crawler behind.
- stdout and stderr are read line by line by two threads and logged (logger
  `external.<name>.stdout` / `.stderr`), so the run's log capture stores them
  as they come (masked like every line). A line is decoded as UTF-8 with
  replacement characters, NULs become U+FFFD (PostgreSQL refuses them), and a
  line longer than MAX_LINE_BYTES is cut with a note; the rest of it is read
  and dropped, never held. The level is the one the line names when it starts
  like a logging line (`... [scrapy.core.engine] INFO: ...`, `ERROR: ...`),
  else the level of the line before it (a traceback, pprinted stats), else
  INFO for stdout and WARNING for stderr.
- `timeout_seconds` (0: none) and the worker's SIGTERM stop the group:
  SIGTERM, then SIGKILL after `grace_seconds`. After any end, what is left of
  the group (a script's background children) is stopped the same way.
"""

from __future__ import annotations

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from pipelines.external.exceptions import ChildFailed, ChildTerminated, ChildTimedOut

LEASH = Path(__file__).with_name("leash.py")
MAX_LINE_BYTES = 64 * 1024
TAIL_LINES = 10  # stderr lines quoted in a failure's message
_LEVEL_WORD = re.compile(r"(?:^|[\s\[])(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL)(?:\]|:)")
_LEVELS = {"DEBUG": logging.DEBUG, "INFO": logging.INFO, "WARNING": logging.WARNING, "WARN": logging.WARNING,
           "ERROR": logging.ERROR, "CRITICAL": logging.CRITICAL}


@dataclass
class Ended:
    """How the command ended (when it did not time out and the worker was not stopped)."""

    returncode: int
    elapsed_s: float
    stderr_tail: list[str] = field(default_factory=list)
    lines: int = 0


def line_level(text: str) -> int | None:
    """The level a line names near its start (`2026-... [x] ERROR: ...`), if it does."""
    match = _LEVEL_WORD.search(text[:120])
    return _LEVELS[match.group(1)] if match else None


def clean_line(data: bytes) -> str:
    return data.decode("utf-8", "replace").rstrip("\r\n").replace("\x00", "\ufffd")


class _Reader(threading.Thread):
    """Logs the lines of one pipe; keeps the last few for an error message."""

    def __init__(self, stream: IO[bytes], logger: logging.Logger, default: int) -> None:
        super().__init__(name=f"{logger.name}-reader", daemon=True)
        self.stream, self.logger, self.level = stream, logger, default
        self.tail: deque[str] = deque(maxlen=TAIL_LINES)
        self.lines = 0

    def run(self) -> None:
        try:
            while True:
                data = self.stream.readline(MAX_LINE_BYTES)
                if not data:
                    return
                dropped = 0
                if not data.endswith(b"\n") and len(data) == MAX_LINE_BYTES:
                    dropped = self._drop_rest()
                text = clean_line(data)
                if dropped:
                    text += f" ... [line cut: {dropped:,} more bytes not stored]"
                self.lines += 1
                self.tail.append(text[:500])
                # A line naming no level goes on the record before it (a traceback, pprinted stats).
                level = line_level(text)
                self.level = level = level if level is not None else self.level
                self.logger.log(level, "%s", text)
        except (OSError, ValueError):  # the pipe was closed under us: the process is gone
            return
        finally:
            self.stream.close()

    def _drop_rest(self) -> int:
        dropped = 0
        while True:
            chunk = self.stream.readline(MAX_LINE_BYTES)
            dropped += len(chunk)
            if not chunk or chunk.endswith(b"\n"):
                return dropped - (1 if chunk.endswith(b"\n") else 0)


def describe(argv: Sequence[str]) -> str:
    """A short name of a command for messages: 'python -m crawlops_scrapy crawl shop'."""
    words = [Path(argv[0]).name, *argv[1:4]]
    return " ".join(words) + (" ..." if len(argv) > 4 else "")


def run(argv: Sequence[str], *, name: str, cwd: str | Path, env: Mapping[str, str], timeout_seconds: float = 0,
        grace_seconds: float = 10, what: str = "") -> Ended:
    """Run `argv` to its end; raise ChildFailed / ChildTimedOut / ChildTerminated, else return how it ended.

    `what` names the command in messages (default: its first words).
    """
    what = what or describe(argv)
    started = time.monotonic()
    leash = [sys.executable, "-I", "-S", str(LEASH), str(os.getpid()), str(grace_seconds)]
    proc = subprocess.Popen([*leash, *argv], cwd=str(cwd), env=dict(env), stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    group = proc.pid  # the session leader's pid is its group's id
    readers = [_Reader(proc.stdout, logging.getLogger(f"external.{name}.stdout"), logging.INFO),  # type: ignore[arg-type]
               _Reader(proc.stderr, logging.getLogger(f"external.{name}.stderr"), logging.WARNING)]  # type: ignore[arg-type]
    for reader in readers:
        reader.start()
    terminated = threading.Event()
    timed_out = False
    previous = _on_sigterm(lambda: (terminated.set(), _terminate(proc, group)))
    try:
        deadline = started + timeout_seconds if timeout_seconds and timeout_seconds > 0 else None
        while True:
            try:
                proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if terminated.is_set():
                break
            if deadline is not None and time.monotonic() >= deadline:
                timed_out = True
                break
    finally:
        # Whatever ended the wait (the command's end, the timeout, SIGTERM, KeyboardInterrupt, a bug):
        # nothing of the group outlives this call.
        stop_group(proc, group, grace_seconds)
        _restore_sigterm(previous)
        for reader in readers:
            reader.join(5)
    elapsed = time.monotonic() - started
    tail = list(readers[1].tail) or list(readers[0].tail)
    lines = sum(r.lines for r in readers)
    if terminated.is_set():
        raise ChildTerminated(f"the worker got SIGTERM after {elapsed:.0f} s; {what} and its process group were "
                              f"stopped{_quoted(tail)}")
    if timed_out:
        raise ChildTimedOut(f"{what} timed out after {timeout_seconds:g} s; its process group was stopped "
                            f"(SIGTERM, then SIGKILL after {grace_seconds:g} s){_quoted(tail)}")
    code = proc.returncode
    if code != 0:
        raise ChildFailed(f"{what} {exit_words(code)}{_quoted(tail)}", code)
    return Ended(code, round(elapsed, 3), tail, lines)


def exit_words(code: int) -> str:
    """'exited with code 3', 'was killed by signal 9 (SIGKILL)'; leash.py's own 127 says it could not start."""
    if code < 0:
        try:
            sig = signal.Signals(-code).name
        except ValueError:
            sig = "unknown"
        return f"was killed by signal {-code} ({sig})"
    if code > 128 and code - 128 in signal.Signals._value2member_map_:
        return f"exited with code {code} (128 + {signal.Signals(code - 128).name})"
    return f"exited with code {code}"


def _quoted(tail: list[str]) -> str:
    if not tail:
        return ""
    return "; last lines: " + " | ".join(tail[-5:])


def _terminate(proc: subprocess.Popen, group: int) -> None:
    """One SIGTERM for every process of the group.

    While leash.py runs, it alone is signalled and passes SIGTERM on to the group: signalling the
    group too would give every process two, and a second SIGTERM makes Scrapy stop at once,
    without closing the spider (no stats, no finish_reason). Without it, the group directly.
    """
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        else:
            return
    _signal_group(group, signal.SIGTERM)


def stop_group(proc: subprocess.Popen, group: int, grace_seconds: float) -> None:
    """SIGTERM to the group, SIGKILL to whatever is left after `grace_seconds`; reaps the leader."""
    if proc.poll() is None or _group_alive(group):
        _terminate(proc, group)
        deadline = time.monotonic() + max(0.0, grace_seconds)
        while time.monotonic() < deadline:
            proc.poll()
            if proc.returncode is not None and not _group_alive(group):
                break
            time.sleep(0.05)
        _signal_group(group, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 5
    while _group_alive(group) and time.monotonic() < deadline:  # orphans being reaped by init
        time.sleep(0.05)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _signal_group(group: int, sig: int) -> None:
    try:
        os.killpg(group, sig)
    except (ProcessLookupError, PermissionError):
        pass


_NOT_SET = object()


def _on_sigterm(stop: Callable[[], object]) -> object:
    """While the command runs, the worker's SIGTERM stops the command's group (and the task fails)."""
    if threading.current_thread() is not threading.main_thread():
        return _NOT_SET  # only the main thread may set handlers; leash.py's death signal still works
    return signal.signal(signal.SIGTERM, lambda signum, frame: stop())


def _restore_sigterm(previous: object) -> None:
    if previous is not _NOT_SET:
        signal.signal(signal.SIGTERM, previous)  # type: ignore[arg-type]
