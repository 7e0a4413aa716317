"""Unmanaged, read-only models of our run tables: crawl_runs and crawl_run_logs.

The schema is pipelines/runs/models.py (the workers write it; it is fixed).
A CrawlRun is one task attempt: the primary source of webmon's run pages.
Times are naive UTC in the database, aware UTC here (LuigiTimestampField).
Rules about a run (its status as seen now, its duration, its tick) live here;
the queries live in webmon/history/queries.py.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from django.db import models

from webmon.history.fields import LuigiTimestampField
from webmon.history.queries import LogQuerySet, RunQuerySet
from webmon.history.readonly import HistoryModel
from webmon.history.ticks import RUNNING, end_of, logical_time, tick_key

STALE = "stale"  # running, but the worker stopped sending heartbeats

# Minimum-level filter of the log viewer; the worker's captured stdout and
# stderr count as INFO and WARNING.
LEVEL_RANKS = {"DEBUG": 10, "INFO": 20, "STDOUT": 20, "WARNING": 30, "STDERR": 30, "ERROR": 40, "CRITICAL": 50}
LEVEL_CHOICES = ("DEBUG", "INFO", "WARNING", "ERROR")


def levels_at_least(minimum: str) -> list[str]:
    """The stored levels shown when the viewer asks for `minimum` and above."""
    rank = LEVEL_RANKS[minimum]
    return [level for level, r in LEVEL_RANKS.items() if r >= rank]


def stored_object(text: str | None) -> dict[str, Any] | None:
    """The JSON object a column stores: {} when `text` is empty, None when it is no JSON object (shown as it is)."""
    if not text:
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def json_items(text: str | None) -> list[tuple[str, str]] | None:
    """A JSON object's items as (key, text) pairs; None when `text` is not a JSON object."""
    data = stored_object(text)
    if data is None:
        return None
    return [(str(k), v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)) for k, v in data.items()]


def json_object(text: str | None) -> dict[str, Any]:
    """A JSON object, or {} when `text` is empty or not a JSON object."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


class CrawlRun(HistoryModel):
    """A row of crawl_runs: one attempt of one task."""

    id = models.BigAutoField(primary_key=True)
    task_id = models.CharField(max_length=255)
    family = models.CharField(max_length=100)
    crawl = models.CharField(max_length=100, null=True)  # noqa: DJ001 - mirrors the schema
    params = models.TextField()
    host = models.CharField(max_length=255)
    pid = models.IntegerField()
    worker = models.CharField(max_length=255, null=True)  # noqa: DJ001
    attempt = models.IntegerField()
    status = models.CharField(max_length=10)
    started_at = LuigiTimestampField()
    finished_at = LuigiTimestampField(null=True)
    heartbeat_at = LuigiTimestampField()
    error_type = models.CharField(max_length=255, null=True)  # noqa: DJ001
    error_message = models.TextField(null=True)  # noqa: DJ001
    traceback = models.TextField(null=True)  # noqa: DJ001
    stats = models.TextField(null=True)  # noqa: DJ001
    log_lines = models.IntegerField(default=0)
    log_truncated = models.BooleanField(default=False)

    objects = RunQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "crawl_runs"

    def __str__(self) -> str:
        return f"{self.task_id} attempt {self.attempt}"

    def display_status(self, now: datetime, stale_after: timedelta) -> str:
        """The status, or `stale` for a run whose worker stopped sending heartbeats."""
        if self.status == RUNNING and now - self.heartbeat_at > stale_after:
            return STALE
        return self.status

    def silent_seconds(self, now: datetime, stale_after: timedelta) -> int | None:
        """Whole seconds since the last heartbeat of a stale run (the worker may have died), else None."""
        if self.display_status(now, stale_after) != STALE:
            return None
        return int((now - self.heartbeat_at).total_seconds())

    def duration(self, now: datetime) -> timedelta:
        return end_of(self, now) - self.started_at

    @property
    def is_running(self) -> bool:
        return self.status == RUNNING

    @property
    def log_count(self) -> int:
        """Lines in the run's log: the count the worker stored at the end, or, read with
        `with_log_count()`, the newest line's number when that is more (a running or killed run)."""
        return max(self.log_lines or 0, self.__dict__.get("last_log_seq") or 0)

    @property
    def tick_key(self) -> str | None:
        return tick_key(self.family, self.task_id)

    @property
    def logical_time(self) -> datetime | None:
        """The tick's logical time: its `at` parameter (from `params_head` on list pages), or None."""
        text = self.__dict__["params_head"] if "params_head" in self.__dict__ else self.__dict__.get("params")
        return logical_time(text)

    @property
    def error_line(self) -> str:
        """The first non-empty line of the error message (from `error_head` on list pages)."""
        # List pages read only the head: never touch the deferred column there (a query per row).
        text = self.__dict__["error_head"] if "error_head" in self.__dict__ else self.error_message
        text = text or ""
        return next((line.strip() for line in text.splitlines() if line.strip()), "")

    def params_items(self) -> list[tuple[str, str]] | None:
        return json_items(self.params)


class CrawlRunLog(HistoryModel):
    """A row of crawl_run_logs: line `seq` (1, 2, ...) of a run's log."""

    id = models.BigAutoField(primary_key=True)
    run = models.ForeignKey(
        CrawlRun, models.DO_NOTHING, db_column="run_id", db_constraint=False, related_name="log_rows"
    )
    seq = models.IntegerField()
    ts = LuigiTimestampField()
    level = models.CharField(max_length=10)
    logger = models.CharField(max_length=200)
    message = models.TextField()

    objects = LogQuerySet.as_manager()

    class Meta:
        managed = False
        db_table = "crawl_run_logs"

    def __str__(self) -> str:
        return f"{self.seq} {self.level} {self.message[:80]}"

    @property
    def is_cut(self) -> bool:
        """True when the viewer read only the head of a long message (`head`, `message_length`)."""
        return self.__dict__.get("message_length", 0) > len(self.__dict__.get("head") or "")
