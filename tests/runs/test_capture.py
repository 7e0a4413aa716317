"""Log capture in one process: the root handler, the tees, batching by time, a stuck writer, long lines."""

from __future__ import annotations

import io
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.runs import records, sink
from pipelines.runs.capture import Capture, StreamTee
from pipelines.runs.masking import Masker
from pipelines.runs.sink import LogSink
from pipelines.runs.writer import MAX_LINE_BYTES, cut_line
from tests.runs.support import wait_for


@pytest.fixture
def history(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path}/history.db"
    records.engine_for(url)  # creates the tables
    return url


def new_sink(url: str, **options: object) -> LogSink:
    engine = records.engine_for(url)
    run_id, _ = records.create_run(engine, task_id="t", family="T", crawl=None, params="{}", host="h", pid=1,
                                   worker=None, now=records.utcnow())
    return LogSink(url, run_id, masker=Masker(), **options)  # type: ignore[arg-type]


def stored(url: str, run_id: int) -> list[tuple[str, str, str]]:
    lines = records.log_lines_after(records.engine_for(url), run_id, 0, limit=10_000)
    return [(line["level"], line["logger"], line["message"]) for line in lines]


@pytest.fixture
def capture(history: str) -> Iterator[Capture]:
    """A capture the test starts itself: pytest swaps sys.stdout/err between fixture setup and the test."""
    cap = Capture(new_sink(history), echo_level=logging.WARNING)
    try:
        yield cap
    finally:
        cap.stop()


def test_a_console_handler_writing_through_the_tee_is_not_captured_twice(capture: Capture, history: str) -> None:
    capture.start()
    console = logging.StreamHandler()  # made during the run: its stream is the stderr tee
    logger = logging.getLogger("tests.capture.console")
    logger.addHandler(console)
    try:
        logger.warning("once")
        print("printed", file=sys.stderr)
    finally:
        logger.removeHandler(console)
    capture.stop()
    assert stored(history, capture.sink.run_id) == [("WARNING", "tests.capture.console", "once"),
                                                    ("STDERR", "stderr", "printed")]
    assert isinstance(console.stream, StreamTee)
    console.stream.write("after the run\n")  # a tee outliving its run only writes through


def test_a_line_without_its_newline_is_kept_at_the_end(capture: Capture, history: str) -> None:
    capture.start()
    sys.stdout.write("progress 10%")
    sys.stdout.write(" 20%\nlast")
    capture.stop()
    assert stored(history, capture.sink.run_id) == [("STDOUT", "stdout", "progress 10% 20%"),
                                                    ("STDOUT", "stdout", "last")]


def test_info_records_of_any_logger_are_captured_and_the_root_is_put_back(history: str) -> None:
    root = logging.getLogger()
    level, handlers, out, err = root.level, list(root.handlers), sys.stdout, sys.stderr
    cap = Capture(new_sink(history))
    cap.start()
    logging.getLogger("urllib3.connectionpool").info("Starting new HTTP connection")
    logging.getLogger("tests.capture").debug("below the capture level")
    cap.stop()
    assert stored(history, cap.sink.run_id) == [("INFO", "urllib3.connectionpool", "Starting new HTTP connection")]
    assert (root.level, root.handlers, sys.stdout, sys.stderr) == (level, handlers, out, err)


def test_records_nobody_else_handles_are_echoed_to_the_console(history: str, monkeypatch: pytest.MonkeyPatch) -> None:
    console = io.StringIO()
    cap = Capture(new_sink(history), echo_level=logging.INFO)
    monkeypatch.setattr(cap.handler._console, "stream", console)
    handled = logging.getLogger("tests.capture.handled")
    monkeypatch.setattr(handled, "handlers", [logging.NullHandler()])
    monkeypatch.setattr(logging.root, "handlers", [])  # pytest's own handlers would count as "someone else"
    cap.start()
    logging.getLogger("tests.capture.alone").info("only the capture sees me")
    handled.info("my logger has a handler")
    cap.stop()
    assert "INFO tests.capture.alone: only the capture sees me" in console.getvalue()
    assert "my logger has a handler" not in console.getvalue()
    assert len(stored(history, cap.sink.run_id)) == 2


def test_a_partial_batch_is_stored_after_batch_seconds_while_the_run_goes_on(history: str) -> None:
    log_sink = new_sink(history, batch_lines=500, batch_seconds=0.2)
    try:
        log_sink.add(time.time(), "INFO", "x", "live")
        wait_for(lambda: stored(history, log_sink.run_id), timeout=5, message="the line in the DB")
    finally:
        log_sink.close()
    assert log_sink.stored == 1


def test_a_stuck_writer_costs_the_task_at_most_the_timeout(history: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sink, "PUT_TIMEOUT", 0.5)
    log_sink = new_sink(history, batch_lines=100)
    os.kill(log_sink._pid, signal.SIGSTOP)  # the writer hangs, as on a DB lock that never ends
    try:
        started = time.monotonic()
        for i in range(30_000):  # 3 MB: more than the pipe holds
            log_sink.add(time.time(), "INFO", "x", f"{i:08d} " + "x" * 100)
        assert time.monotonic() - started < 10
        assert log_sink.lost > 0
    finally:
        os.kill(log_sink._pid, signal.SIGCONT)
        log_sink.close()


def test_a_very_long_line_is_kept_up_to_one_mebibyte() -> None:
    assert cut_line("short") == "short"
    exact = "é" * (MAX_LINE_BYTES // 2)  # 2 bytes each: exactly 1 MiB
    assert cut_line(exact) is exact
    cut = cut_line("x" * (MAX_LINE_BYTES + 10))
    assert cut == "x" * MAX_LINE_BYTES + " ... [line cut: 10 more bytes not stored]"
