"""JSON lines for log shippers: one valid object a line, bound fields on every line."""

from __future__ import annotations

import json
import logging
import sys

from pipelines.runs.jsonlog import JsonFormatter, JsonLines, Timestamps

BOUND = {"task_id": "FetchPages_demo_abc", "run_id": 7, "family": "FetchPages", "host": "h", "pid": 12}


def test_a_line_is_one_json_object_with_the_bound_fields() -> None:
    line = JsonLines(BOUND).line(1_795_000_000.5, "INFO", "pipelines.tasks", 'say "hi"\nsecond line é <b>')
    assert line.endswith("}\n") and line.count("\n") == 1  # the message's newline is escaped
    assert json.loads(line) == {"ts": "2026-11-18T11:06:40.500Z", "level": "INFO", "logger": "pipelines.tasks",
                                "message": 'say "hi"\nsecond line é <b>', **BOUND}


def test_a_batch_gives_the_same_lines_as_one_at_a_time() -> None:
    lines = JsonLines(BOUND)
    records = [(1, 1_795_000_000.0, "INFO", "a", None), (2, 1_795_000_001.25, "STDOUT", "stdout", None)]
    assert lines.lines(records, ["x", "y"]) == [lines.line(1_795_000_000.0, "INFO", "a", "x"),
                                                lines.line(1_795_000_001.25, "STDOUT", "stdout", "y")]


def test_timestamps_are_utc_with_milliseconds_across_second_boundaries() -> None:
    ts = Timestamps()
    assert [ts(t) for t in (0.999, 1.0, 1.0015, 86_400.25)] == [
        "1970-01-01T00:00:00.999Z", "1970-01-01T00:00:01.000Z", "1970-01-01T00:00:01.001Z",
        "1970-01-02T00:00:00.250Z"]


def test_the_formatter_gives_a_logging_handler_the_same_shape() -> None:
    try:
        raise ValueError("bad")
    except ValueError:
        record = logging.getLogger("x").makeRecord("x", logging.ERROR, __file__, 1, "failed %s", ("it",),
                                                  exc_info=sys.exc_info())
    data = json.loads(JsonFormatter(BOUND).format(record))
    assert data["message"].startswith("failed it\nTraceback (most recent call last):")
    assert data["message"].endswith("ValueError: bad")
    assert (data["level"], data["logger"], data["run_id"]) == ("ERROR", "x", 7)
