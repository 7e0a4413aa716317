"""Luigi tasks that keep the databases safe and small.

    python -m luigi --module pipelines.maintenance.tasks BackupDatabase --db history --date 2026-11-21
    python -m luigi --module pipelines.maintenance.tasks BackupAll --date 2026-11-21
    python -m luigi --module pipelines.maintenance.tasks PruneHistory --older-than-days 90 --date 2026-11-21

The databases: history = luigi.cfg [task_history] db_connection, items =
[store] db_connection, webmon = the environment's DATABASE_URL (default
sqlite:///var/webmon.db under the repository root, as webmon reads it).
The same date twice is a no-op (a marker file is written last). A failure
raises BackupError naming the step and the reason, which the run record keeps.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import operator
import os
from pathlib import Path

import luigi

from pipelines import cli_errors, config
from pipelines.maintenance import prune
from pipelines.maintenance.backup import DATABASES, ROOT, BackupError, DbUrl, back_up, parse_url
from pipelines.runs.settings import history_url

log = logging.getLogger("pipelines.maintenance")
cli_errors.install()  # a bad --db or --date prints its sentence, not luigi's traceback

WEBMON_DEFAULT_URL = "sqlite:///var/webmon.db"


class backup(luigi.Config):  # noqa: N801 - named after its luigi.cfg section
    dir = luigi.Parameter(default="var/backups",
                          description="Folder of the backups: <dir>/<db>/<db>-<weekday 0-6>.sql.gz, backup.log.")
    run_dir = luigi.Parameter(default="var/run",
                              description="Folder of the services' pid files; restoredb refuses while one is alive.")


def database_url(db: str) -> DbUrl:
    """The URL of one of the three databases, parsed; relative SQLite paths as each owner resolves them."""
    if db == "history":
        return parse_url(history_url(), label="[task_history] db_connection")
    if db == "items":
        return parse_url(str(config.store().db_connection), label="[store] db_connection")
    if db == "webmon":
        return parse_url(os.environ.get("DATABASE_URL") or WEBMON_DEFAULT_URL, ROOT, label="DATABASE_URL")
    raise BackupError("config", f"unknown database {db!r}; expected one of {', '.join(DATABASES)}")


def sqlalchemy_url(db: str) -> str:
    """A URL SQLAlchemy can open for `db` (the webmon one may be Django-style: postgres://, mysql:// with PyMySQL)."""
    if db == "history":
        return history_url()
    if db == "items":
        return str(config.store().db_connection)
    parts = database_url("webmon")
    if parts.backend == "sqlite":
        return f"sqlite:///{parts.database}"
    url = os.environ["DATABASE_URL"]
    scheme, rest = url.split("://", 1)
    driver = {"postgresql": "postgresql+psycopg2", "mysql": "mysql+pymysql"}[parts.backend]
    return f"{driver if '+' not in scheme else scheme}://{rest}"


class BackupDatabase(luigi.Task):
    """One backup of one database for one day: its weekday file, `latest`, a backup.log line."""

    db = luigi.ChoiceParameter(choices=DATABASES, var_type=str, description="history, items or webmon.")
    date = luigi.DateParameter(description="The day of the backup; its weekday (0 = Sunday) names the file.")

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(backup().dir) / self.db / f".done-{self.date.isoformat()}.json"))

    def run(self) -> None:
        url = database_url(self.db)
        self.set_status_message(f"backing up the {self.db} DB ({url.backend})")
        result = back_up(self.db, url, Path(backup().dir), self.date)
        stats = {"db": self.db, "backend": url.backend, "file": str(result.path), "bytes": result.bytes,
                 "seconds": round(result.seconds, 3)}
        log.info("backup of the %s DB: %s, %d bytes in %.2f s", self.db, result.path, result.bytes, result.seconds)
        self.run_stats = stats
        with self.output().open("w") as fh:  # luigi writes it atomically
            json.dump(stats, fh)


class BackupAll(luigi.WrapperTask):
    """The three backups of one day."""

    date = luigi.DateParameter(description="The day of the backups.")

    def requires(self) -> list[BackupDatabase]:
        return [BackupDatabase(db=db, date=self.date) for db in DATABASES]


class PruneHistory(luigi.Task):
    """Deletes history older than `older_than_days` before `date` (UTC midnight), and expired sessions."""

    # A range, not an int: the command line and a schedule's task_params refuse 0 before anything runs.
    older_than_days = luigi.NumericalParameter(default=90, var_type=int, min_value=1, max_value=36500,
                                               right_op=operator.le, description="Keep this many days of history.")
    date = luigi.DateParameter(default=dt.date.today(), description="The day of the pruning (its cutoff's anchor).")
    batch_size = luigi.IntParameter(default=1000, significant=False, description="Rows per short transaction.")
    pause = luigi.FloatParameter(default=0.05, significant=False, description="Seconds between two batches.")

    def output(self) -> luigi.LocalTarget:
        name = f"{self.date.isoformat()}-{self.older_than_days}d.json"
        return luigi.LocalTarget(str(Path(backup().dir) / "prune" / name))

    def run(self) -> None:
        if self.older_than_days < 1:
            raise ValueError(f"--older-than-days must be at least 1, got {self.older_than_days}")
        midnight = dt.datetime.combine(self.date, dt.time(), tzinfo=dt.UTC)
        cutoff = midnight - dt.timedelta(days=self.older_than_days)
        self.set_status_message(f"pruning history older than {cutoff:%Y-%m-%d %H:%M} UTC")
        history = prune.engine(history_url())
        try:
            done = prune.prune_history(history, cutoff, batch=self.batch_size, pause=self.pause, progress=self._progress)
        finally:
            history.dispose()
        webmon_url = sqlalchemy_url("webmon")
        missing = prune.missing_sqlite_file(webmon_url)
        if missing:  # no webmon DB yet (webmon never started here): no sessions, and none created
            log.info("no webmon DB at %s: no sessions to clear", missing)
        else:
            webmon = prune.engine(webmon_url)
            try:
                done.sessions = prune.clear_sessions(webmon, dt.datetime.now(dt.UTC))
            finally:
                webmon.dispose()
        stats = {"cutoff": cutoff.isoformat(), **done.as_dict()}
        log.info("pruned %s", json.dumps(stats, sort_keys=True))
        self.run_stats = stats
        with self.output().open("w") as fh:
            json.dump(stats, fh)

    def _progress(self, done: prune.Pruned) -> None:
        if done.batches % 100 == 0:  # an RPC to luigid: not every batch
            self.set_status_message(f"pruned {done.tasks:,} tasks, {done.runs:,} runs, {done.run_logs:,} log lines")
