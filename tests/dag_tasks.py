"""A diamond DAG for the dependency-record and graph tests: A requires B and C, both require D.

Run with `python -m luigi --module tests.dag_tasks A --out-dir DIR --tag T --date 2026-03-01` against the
test luigid. `date` is the tick parameter of the contract (a schedule's daily tick); `tag` keeps the tests
of one module apart. Requirements are made with clone(): they share the requirer's parameters.
`Slow` runs until its stop file exists; `Hostile` has markup in its family name's
parameters; `Picky` raises in requires() only when RunContext asks (luigi's own calls succeed).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import threading
import time
from pathlib import Path

import luigi


class DagTask(luigi.Task):
    out_dir = luigi.Parameter()
    tag = luigi.Parameter(default="t")
    date = luigi.DateParameter(default=datetime.date(2026, 1, 1))
    fail = luigi.BoolParameter(default=False, significant=False)

    def output(self) -> luigi.LocalTarget:
        name = hashlib.sha1(self.task_id.encode()).hexdigest()  # a task_id may hold "/" (its namespace)
        return luigi.LocalTarget(str(Path(self.out_dir) / f"{name}.txt"))

    def run(self) -> None:
        if self.fail:
            raise RuntimeError(f"{self.task_family} was told to fail")
        with self.output().open("w") as fh:
            fh.write("done\n")


class D(DagTask):
    pass


class B(DagTask):
    def requires(self) -> D:
        return self.clone(D)


class C(DagTask):
    """Fails when the file fail-C-<date> exists in out_dir (not a parameter: the task stays the same task)."""

    def requires(self) -> list[D]:
        return [self.clone(D)]

    def run(self) -> None:
        if (Path(self.out_dir) / f"fail-C-{self.date}").exists():
            raise RuntimeError("C was told to fail")
        super().run()


class A(DagTask):
    def requires(self) -> dict[str, DagTask]:
        return {"b": self.clone(B), "c": self.clone(C)}


class Slow(DagTask):
    """Requires D; runs until `stop_file` exists (or a minute passed)."""

    stop_file = luigi.Parameter(significant=False)

    def requires(self) -> D:
        return self.clone(D)

    def run(self) -> None:
        deadline = time.monotonic() + 60
        while not os.path.exists(self.stop_file) and time.monotonic() < deadline:
            time.sleep(0.1)
        super().run()


class SlowTop(DagTask):
    """Requires Slow: while Slow runs, luigid knows SlowTop (pending) above it."""

    stop_file = luigi.Parameter(significant=False)

    def requires(self) -> Slow:
        return self.clone(Slow)


class Hostile(DagTask):
    """Markup in its namespace (so in its family and task_id) and in its tag; it requires a D with the same tag."""

    task_namespace = '<img src=x onerror="alert(1)">'

    def requires(self) -> D:
        return self.clone(D)


class Picky(DagTask):
    """requires() raises when RunContext asks it (from its own thread), not when luigi does."""

    def requires(self) -> list[D]:
        if threading.current_thread().name.startswith("requires-"):
            raise LookupError("the catalogue is down")
        return [self.clone(D)]
