"""Writes a history DB the way its writers do: run records through pipelines.runs.models,
Luigi's tables through luigi.db_task_history's own models. For tests and benches.

    seed = HistorySeed("sqlite:////tmp/history.db")      # creates the tables
    ids = seed.tick("demo", datetime(2026, 1, 1, 7, 30, tzinfo=UTC))   # 4 run records of one tick
    seed.logs(ids["FetchPages"], [("INFO", "fetching"), ("ERROR", "boom")])
    seed.luigi_task(task_id, "FetchPages", {"crawl": "demo"}, [("RUNNING", ts), ("DONE", ts2)])

For a million rows use `runs_bulk(rows)` / `logs_bulk(rows)` (executemany in
one transaction) with dicts from `run_row(...)`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from luigi import db_task_history as luigi_history
from luigi.task import task_id_str

from pipelines.runs import models as run_models

CHAIN = ("FetchPages", "ParsePages", "StoreItems")


def at_param(at: datetime) -> str:
    """How Luigi serializes the `at` minute parameter (and so how it appears in task ids)."""
    return at.strftime("%Y-%m-%dT%H%M")


def tick_task_id(family: str, crawl: str, at: datetime) -> str:
    return task_id_str(family, {"crawl": crawl, "at": at_param(at)})


def run_row(
    *,
    family: str = "FetchPages",
    crawl: str | None = "demo",
    at: datetime | None = None,
    task_id: str | None = None,
    params: str | None = None,
    status: str = "done",
    started_at: datetime,
    seconds: float | None = 10.0,
    host: str = "worker-1",
    pid: int = 4242,
    worker: str | None = "worker-1-uuid",
    attempt: int = 1,
    error_type: str | None = None,
    error_message: str | None = None,
    traceback: str | None = None,
    stats: dict | str | None = None,
    log_lines: int = 0,
    heartbeat_at: datetime | None = None,
) -> dict[str, Any]:
    """A crawl_runs row; `seconds=None` (or status running) leaves finished_at empty."""
    at = at or started_at.replace(second=0, microsecond=0)
    if params is None:
        params = json.dumps({"crawl": crawl, "at": at_param(at)}) if crawl is not None else "{}"
    finished = None if seconds is None or status == "running" else started_at + timedelta(seconds=seconds)
    return {
        "task_id": task_id or tick_task_id(family, crawl or "", at),
        "family": family,
        "crawl": crawl,
        "params": params,
        "host": host,
        "pid": pid,
        "worker": worker,
        "attempt": attempt,
        "status": status,
        "started_at": started_at,
        "finished_at": finished,
        "heartbeat_at": heartbeat_at or finished or started_at,
        "error_type": error_type,
        "error_message": error_message,
        "traceback": traceback,
        "stats": json.dumps(stats) if isinstance(stats, dict) else stats,
        "log_lines": log_lines,
        "log_truncated": False,
    }


class HistorySeed:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url, future=True)
        run_models.metadata.create_all(self.engine)
        luigi_history.Base.metadata.create_all(self.engine)

    # -- run records --------------------------------------------------------------

    def run(self, **fields: Any) -> int:
        """One crawl_runs row (see run_row for the fields); returns its id."""
        with self.engine.begin() as conn:
            return int(conn.execute(run_models.runs.insert().values(**run_row(**fields))).inserted_primary_key[0])

    def runs_bulk(self, rows: Sequence[dict[str, Any]]) -> None:
        with self.engine.begin() as conn:
            conn.execute(run_models.runs.insert(), list(rows))

    def tick(
        self,
        crawl: str,
        at: datetime,
        *,
        statuses: dict[str, str] | None = None,
        seconds: float = 20.0,
        wrapper: bool = True,
        **fields: Any,
    ) -> dict[str, int]:
        """The run records of one tick: FetchPages, ParsePages, StoreItems (and RunCrawl), one after the other.

        `statuses` sets a stage's status ("failed" stops the chain there unless later stages are named).
        """
        statuses = statuses or {}
        ids, start = {}, at
        for family in (*CHAIN, "RunCrawl") if wrapper else CHAIN:
            status = statuses.get(family, "done")
            if family not in statuses and any(statuses.get(f) in ("failed", "killed", "running") for f in ids):
                break  # an earlier stage did not finish: later stages never started
            took = 0.5 if family == "RunCrawl" else seconds
            extra = dict(fields)
            if family == "StoreItems" and "stats" not in extra:
                extra["stats"] = {"items": 100, "new": 10, "changed": 5, "unchanged": 85, "duplicates": 0}
            if status == "failed":
                extra.setdefault("error_type", "RuntimeError")
                extra.setdefault("error_message", f"{family} broke")
            ids[family] = self.run(
                family=family, crawl=crawl, at=at, status=status, started_at=start, seconds=took, **extra
            )
            start = start + timedelta(seconds=took + 0.25)
        return ids

    def attempts(self, crawl: str, at: datetime, steps: Sequence[tuple[str, str]], *, seconds: float = 20.0,
                 start: datetime | None = None) -> list[int]:
        """A tick's runs as they happened, one after the other: (family, status) each, retries included.

        Attempts are numbered per family, as the worker numbers them; returns the run ids in order.
        """
        ids, attempt, when = [], dict[str, int](), start or at
        for family, status in steps:
            attempt[family] = attempt.get(family, 0) + 1
            extra: dict[str, Any] = {}
            if status in ("failed", "killed"):
                extra = {"error_type": "RuntimeError", "error_message": f"{family} broke"}
            ids.append(self.run(family=family, crawl=crawl, at=at, status=status, started_at=when, seconds=seconds,
                                attempt=attempt[family], **extra))
            when += timedelta(seconds=seconds + 0.25)
        return ids

    # -- log lines -----------------------------------------------------------------

    def logs(
        self,
        run_id: int,
        lines: Iterable[tuple[str, str] | tuple[str, str, str]],
        *,
        start: datetime | None = None,
        first_seq: int = 1,
    ) -> int:
        """Lines of (level, message[, logger]); returns how many."""
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        rows = []
        for i, line in enumerate(lines):
            level, message, logger = (*line, "pipelines.tasks")[:3]
            rows.append(
                {
                    "run_id": run_id,
                    "seq": first_seq + i,
                    "ts": start + timedelta(milliseconds=10 * i),
                    "level": level,
                    "logger": logger,
                    "message": message,
                }
            )
        self.logs_bulk(rows)
        if rows:  # as the worker does: the count is written when the run ends (records.finish), not while it runs
            with self.engine.begin() as conn:
                conn.execute(
                    run_models.runs.update()
                    .where(run_models.runs.c.id == run_id, run_models.runs.c.status != "running")
                    .values(log_lines=rows[-1]["seq"])
                )
        return len(rows)

    def logs_bulk(self, rows: Sequence[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(run_models.run_logs.insert(), list(rows))

    # -- Luigi's tables --------------------------------------------------------------

    def luigi_task(
        self,
        task_id: str,
        family: str,
        params: dict[str, str],
        events: Sequence[tuple[str, datetime]],
        host: str = "worker-1",
    ) -> int:
        """A `tasks` row with its parameters and events; event times are written naive UTC, as luigid does."""
        with self.engine.begin() as conn:
            tasks = luigi_history.TaskRecord.__table__
            task_pk = conn.execute(tasks.insert().values(task_id=task_id, name=family, host=host)).inserted_primary_key[
                0
            ]
            if params:
                conn.execute(
                    luigi_history.TaskParameter.__table__.insert(),
                    [{"task_id": task_pk, "name": k, "value": v} for k, v in params.items()],
                )
            if events:
                conn.execute(
                    luigi_history.TaskEvent.__table__.insert(),
                    [
                        {"task_id": task_pk, "event_name": name, "ts": ts.astimezone(UTC).replace(tzinfo=None)}
                        for name, ts in events
                    ],
                )
        return int(task_pk)

    def execute(self, sql: str, params: dict[str, Any] | None = None) -> None:
        """Raw SQL, for what no writer would do (invalid UTF-8, dropped tables)."""
        with self.engine.begin() as conn:
            conn.execute(sa.text(sql), params or {})
