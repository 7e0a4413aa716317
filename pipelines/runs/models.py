"""Run records and run logs: our own tables in the history DB.

Luigi's history has no run identity (reruns append to one `tasks` row), no
error text and no logs. Every task attempt gets a `crawl_runs` row and its log
lines in `crawl_run_logs`, written by the worker. pipelines/ creates these
tables (webmon only reads them). All times are stored as naive UTC and read
back as aware UTC (`UTCDateTime`).

Indexes serve the reads that must stay fast at millions of rows: latest runs
of a family, runs of a task_id, log lines of a run after line N, and the
dependency rows of a tick or of one luigi worker (crawl_run_deps).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mysql

metadata = sa.MetaData()
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql")

RUNNING, DONE, FAILED, KILLED = "running", "done", "failed", "killed"
STATUSES = (RUNNING, DONE, FAILED, KILLED)


class UTCDateTime(sa.types.TypeDecorator):
    """Aware UTC in Python, naive UTC in the database (the same on every backend)."""

    impl = sa.DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        # MySQL/MariaDB DATETIME keeps whole seconds unless asked for microseconds.
        if dialect.name == "mysql":
            return dialect.type_descriptor(mysql.DATETIME(fsp=6))
        return dialect.type_descriptor(sa.DateTime())

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


runs = sa.Table(
    "crawl_runs", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.String(255), nullable=False),   # luigi's task_id
    sa.Column("family", sa.String(100), nullable=False),     # task family, e.g. FetchPages
    sa.Column("crawl", sa.String(100)),                      # the crawl parameter, when the task has one
    sa.Column("params", LongText, nullable=False),           # JSON of the task's parameters (serialized)
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("worker", sa.String(255)),                     # luigi worker id
    sa.Column("attempt", sa.Integer, nullable=False),        # 1 + earlier runs of this task_id
    sa.Column("status", sa.String(10), nullable=False),      # running, done, failed, killed
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    sa.Column("heartbeat_at", UTCDateTime, nullable=False),
    sa.Column("error_type", sa.String(255)),
    sa.Column("error_message", LongText),
    sa.Column("traceback", LongText),
    sa.Column("stats", LongText),                            # JSON: the stage's counters
    sa.Column("log_lines", sa.Integer, nullable=False, default=0),
    sa.Column("log_truncated", sa.Boolean, nullable=False, default=False),
    sa.Index("ix_crawl_runs_family_started", "family", "started_at"),
    # The runs of a task_id (its attempts; a tick's, the task_ids computed), newest first; with
    # status and id webmon reads a tick's runs for its counts from the index alone.
    sa.Index("ix_crawl_runs_task_status", "task_id", "started_at", "status", "id"),
    sa.Index("ix_crawl_runs_crawl_started", "crawl", "started_at"),
    sa.Index("ix_crawl_runs_status_heartbeat", "status", "heartbeat_at"),
    sa.Index("ix_crawl_runs_started", "started_at"),
    # webmon's tick counts (overview 7-day success, crawl page calendar): a crawl's done last stages per
    # day from the index alone, and its runs that are not done, a range per status and family that
    # holds only them; and the last success of a crawl, one seek. Status before family: a read of a
    # crawl and family newest first (the runs list, the crawl page's StoreItems) does not match it
    # and keeps (crawl, started_at)'s order, where (crawl, family, status, ...) made SQLite sort.
    sa.Index("ix_crawl_runs_crawl_status_family", "crawl", "status", "family", "started_at"),
    # webmon's families page: p50/p95 per family over a recent window, from the index alone.
    sa.Index("ix_crawl_runs_family_window", "family", "started_at", "status", "finished_at"),
)

# Indexes an earlier release made that one above replaces: create_tables drops them once their
# replacement exists. (task_id, started_at) is a prefix of ix_crawl_runs_task_status; with
# started_at before status, (crawl, family, started_at, status) read every run of a window to find
# the few that are not done.
SUPERSEDED_INDEXES = {"crawl_runs": ("ix_crawl_runs_task_started", "ix_crawl_runs_crawl_family_started")}

run_logs = sa.Table(
    "crawl_run_logs", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=True),
    sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("seq", sa.Integer, nullable=False),            # 1, 2, 3 ... within the run
    sa.Column("ts", UTCDateTime, nullable=False),
    sa.Column("level", sa.String(10), nullable=False),       # DEBUG INFO WARNING ERROR CRITICAL; STDOUT STDERR
    sa.Column("logger", sa.String(200), nullable=False),
    sa.Column("message", LongText, nullable=False),          # secrets masked before it is stored
    sa.UniqueConstraint("run_id", "seq", name="uq_crawl_run_logs_seq"),
)

# The direct requirements of the task of each run, as luigi.task.flatten(task.requires()) gave
# them when the run started: webmon draws a run's dependency graph and a schedule's grid from
# these rows once luigid has forgotten the tasks. A run whose requires() failed has no row.
run_deps = sa.Table(
    "crawl_run_deps", metadata,
    sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True, autoincrement=False),
    sa.Column("scheduled_run", sa.Integer),                  # webmon's ScheduledRun pk (CRAWLOPS_SCHEDULED_RUN)
    sa.Column("worker", sa.String(255)),                     # luigi worker id: the runs of one luigi invocation
    sa.Column("requires", LongText, nullable=False),         # JSON list of {"task_id": ..., "family": ...}
    # The rows of a tick ("runs of these ticks": the grid) and of one invocation (the graph), newest first.
    sa.Index("ix_crawl_run_deps_scheduled", "scheduled_run", "run_id"),
    sa.Index("ix_crawl_run_deps_worker", "worker", "run_id"),
)

# -- pre-aggregated totals (pipelines/runs/totals.py): what webmon's /metrics reads -----------
# Maintained in the transaction that finishes a run (records.finish) or kills it (sweep), so a
# scrape reads a few rows whatever the size of crawl_runs. Durations in integer microseconds
# (sums stay exact), timestamps in epoch seconds.

DURATION_BUCKETS = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)  # seconds, crawl_task_duration_seconds


def bucket_column(le: float) -> str:
    return f"le_{le:g}".replace(".", "_")


run_totals = sa.Table(
    "crawl_run_totals", metadata,
    sa.Column("family", sa.String(100), primary_key=True),
    sa.Column("status", sa.String(10), primary_key=True),          # done, failed, killed
    sa.Column("runs", sa.BigInteger, nullable=False),              # outcomes recorded
    sa.Column("duration_us", sa.BigInteger, nullable=False),       # sum of finished_at - started_at
    *(sa.Column(bucket_column(le), sa.BigInteger, nullable=False) for le in DURATION_BUCKETS),  # cumulative
    sa.Column("last_finished", sa.Float(53), nullable=False),      # epoch seconds of the newest outcome
    sa.Column("last_duration_us", sa.BigInteger, nullable=False),  # duration of that newest outcome
)

crawl_totals = sa.Table(
    "crawl_crawl_totals", metadata,
    sa.Column("crawl", sa.String(100), primary_key=True),
    sa.Column("name", sa.String(40), primary_key=True),            # pages_fetched, responses_2xx, ... (totals.py)
    sa.Column("value", sa.Float(53), nullable=False),              # a count, or epoch seconds for last_success_at
)

# The newest data-quality report of each crawl (pipelines/quality.py, in the stats of its StoreItems
# runs): what /metrics reads for coverage and violations, one row per crawl whatever the history's
# size. Kept by totals.record in the transaction that finishes the StoreItems run; the newest tick
# wins (a backfill of an older tick does not replace it; a rerun of the same tick does).
quality_latest = sa.Table(
    "crawl_quality_latest", metadata,
    sa.Column("crawl", sa.String(100), primary_key=True),
    sa.Column("tick", sa.Float(53), nullable=False),               # the tick (its `at`), epoch seconds
    sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), nullable=False),
    sa.Column("items", sa.BigInteger, nullable=False),
    sa.Column("verdict", sa.String(10), nullable=False),            # ok, warn, fail
    sa.Column("report", LongText, nullable=False),                 # JSON: coverage, monitors, baseline, schema
)
