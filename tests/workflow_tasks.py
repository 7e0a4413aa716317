"""A user's Luigi workflow module, for the scheduling tests: what a team's own tasks look like.

The tests allow it with CRAWLOPS_WORKFLOW_MODULES (or luigi.cfg's [workflows]
modules); the trigger daemon runs its tasks through `python -m luigi --module
tests.workflow_tasks ...` against a real luigid.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import luigi

from pipelines.tasks import MinuteParameter


class WriteReport(luigi.Task):
    """Writes a small report for one tick (a team's report task)."""

    out_dir = luigi.Parameter(description="Folder of the reports.")
    rows = luigi.IntParameter(default=3, description="Rows in the report.")
    fmt = luigi.ChoiceParameter(choices=["csv", "json"], default="csv", description="File format.")
    since = luigi.DateParameter(default=None, description="First day the report covers.")
    tags = luigi.ListParameter(default=[], description="Labels written into the report.")
    loud = luigi.BoolParameter(description="Log every row.")
    at = MinuteParameter(description="The tick.")

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.out_dir) / f"report-{self.at:%Y%m%dT%H%M}.{self.fmt}"))

    def run(self) -> None:
        report = {"rows": [f"row {i}" for i in range(self.rows)], "tags": list(self.tags),
                  "since": self.since.isoformat() if self.since else None, "loud": self.loud,
                  "scheduled_run": os.environ.get("CRAWLOPS_SCHEDULED_RUN")}
        with self.output().open("w") as fh:
            json.dump(report, fh)


class LoadWarehouse(luigi.Task):
    """Fails every time, like a load into a warehouse that refuses it; counts its attempts."""

    attempts_file = luigi.Parameter()
    date = luigi.DateParameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(str(Path(self.attempts_file).with_suffix(f".{self.date}.done")))

    def run(self) -> None:
        with open(self.attempts_file, "a") as fh:
            fh.write(f"{self.date}\n")
        raise RuntimeError("the warehouse refused the load")


class SlowExport(luigi.Task):
    """Starts a child process and waits for ever: a timeout must kill both (their process group)."""

    pid_file = luigi.Parameter()
    at = MinuteParameter()

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget(self.pid_file + ".done")

    def run(self) -> None:
        child = subprocess.Popen(["sleep", "600"])
        Path(self.pid_file).write_text(f"{os.getpid()} {child.pid}\n")
        time.sleep(600)


class Settings(luigi.Config):
    """Not a task: a schedule may not name it."""

    level = luigi.IntParameter(default=1)


class Upstream(luigi.ExternalTask):
    """Data made elsewhere: luigi can only wait for it."""

    def output(self) -> luigi.LocalTarget:
        return luigi.LocalTarget("/nonexistent/upstream")


def helper() -> None:
    """Not a class at all."""
