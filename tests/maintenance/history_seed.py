"""A big SQLite history DB built fast: Luigi's tables and our run tables, old and recent rows.

Luigi's schema comes from luigi.db_task_history, ours from pipelines.runs.models;
rows go in with executemany in one transaction with synchronous off.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from luigi.db_task_history import Base

from pipelines.runs.models import metadata


@dataclass(frozen=True)
class Seeded:
    old_tasks: int
    recent_tasks: int
    old_runs: int
    recent_runs: int
    events_per_task: int = 4
    params_per_task: int = 2
    lines_per_run: int = 28

    @property
    def rows(self) -> int:
        tasks = self.old_tasks + self.recent_tasks
        runs = self.old_runs + self.recent_runs
        return tasks * (1 + self.events_per_task + self.params_per_task) + runs * (1 + self.lines_per_run)


def seed_history(path: Path, now: dt.datetime, *, old_days: int, recent_days: int, scale: float = 1.0) -> Seeded:
    """Old rows are `old_days` before `now` (naive UTC), recent ones `recent_days` before it."""
    seeded = Seeded(old_tasks=int(50_000 * scale), recent_tasks=int(10_000 * scale),
                    old_runs=int(18_000 * scale), recent_runs=int(2_000 * scale))
    engine = sa.create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(engine)
    metadata.create_all(engine)
    engine.dispose()
    old, recent = now - dt.timedelta(days=old_days), now - dt.timedelta(days=recent_days)
    n_tasks = seeded.old_tasks + seeded.recent_tasks
    n_runs = seeded.old_runs + seeded.recent_runs

    def when(i: int, old_count: int) -> dt.datetime:
        return old if i <= old_count else recent

    db = sqlite3.connect(path)
    db.execute("PRAGMA synchronous = OFF")
    with db:
        db.executemany("INSERT INTO tasks (id, task_id, name, host) VALUES (?, ?, ?, ?)",
                       ((i, f"SeedTask_{i}_0123456789", "SeedTask", "seed-host") for i in range(1, n_tasks + 1)))
        db.executemany(
            "INSERT INTO task_events (task_id, event_name, ts) VALUES (?, ?, ?)",
            ((i, name, str(when(i, seeded.old_tasks) + dt.timedelta(seconds=k)))
             for i in range(1, n_tasks + 1)
             for k, name in enumerate(("PENDING", "RUNNING", "DONE", "DONE")[: seeded.events_per_task])))
        db.executemany("INSERT INTO task_parameters (task_id, name, value) VALUES (?, ?, ?)",
                       ((i, f"p{k}", f"value {i}") for i in range(1, n_tasks + 1) for k in range(seeded.params_per_task)))
        db.executemany(
            "INSERT INTO crawl_runs (id, task_id, family, crawl, params, host, pid, attempt, status, started_at,"
            " finished_at, heartbeat_at, log_lines, log_truncated) VALUES (?, ?, 'FetchPages', 'seed', '{}',"
            " 'seed-host', 1, 1, 'done', ?, ?, ?, ?, 0)",
            ((i, f"FetchPages_seed_{i}", str(t), str(t + dt.timedelta(seconds=30)), str(t + dt.timedelta(seconds=30)),
              seeded.lines_per_run)
             for i in range(1, n_runs + 1) for t in [when(i, seeded.old_runs)]))
        db.executemany(
            "INSERT INTO crawl_run_logs (run_id, seq, ts, level, logger, message) VALUES (?, ?, ?, 'INFO', 'seed', ?)",
            ((i, k, str(when(i, seeded.old_runs)), f"line {k} of run {i}")
             for i in range(1, n_runs + 1) for k in range(1, seeded.lines_per_run + 1)))
    db.execute("PRAGMA optimize")
    db.close()
    return seeded
