"""Schedules of a user's Luigi tasks with real processes: `manage.py trigger`, the luigi CLI, luigid.

The tasks are tests/workflow_tasks.py (a team's own module, allowed through
CRAWLOPS_WORKFLOW_MODULES) and a module written into a temporary folder on the
luigi processes' PYTHONPATH, which the test edits under the running daemon.
"""

from __future__ import annotations

import json
import os
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import ROOT, Luigid
from tests.scheduling.test_trigger_e2e import Webmon, schedule_now
from webmon.scheduling.daemon import pid_alive

TEAM = """
    import luigi
    from pipelines.tasks import MinuteParameter

    class Nightly(luigi.Task):
        '''The team's nightly job.'''
        out = luigi.Parameter()
        at = MinuteParameter()

        def output(self):
            return luigi.LocalTarget(f"{self.out}/nightly-{self.at:%Y%m%dT%H%M}")

        def run(self):
            with self.output().open("w") as fh:
                fh.write("ok")
"""


@pytest.fixture
def webmon(luigid: Luigid, tmp_path: Path) -> Iterator[Webmon]:
    code = tmp_path / "code"
    code.mkdir()
    w = Webmon(luigid, tmp_path)
    w.env.update(CRAWLOPS_WORKFLOW_MODULES="tests.workflow_tasks, team_e2e", PYTHONDONTWRITEBYTECODE="1",
                 PYTHONPATH=f"{ROOT}{os.pathsep}{code}")
    yield w
    w.stop_all()


def history(luigid: Luigid, sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(luigid.history_url)
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def queue_manual(webmon: Webmon, name: str) -> None:
    webmon.shell(
        "from datetime import datetime, UTC; from webmon.scheduling.models import Schedule, ScheduledRun as R;"
        f"R.objects.create(schedule=Schedule.objects.get(name='{name}'), trigger='manual', state='queued',"
        " logical_time=datetime.now(UTC).replace(second=0, microsecond=0))")


def test_a_workflow_task_runs_through_luigid_with_its_parameters_and_run_id(
        webmon: Webmon, luigid: Luigid, tmp_path: Path) -> None:
    out = tmp_path / "reports"
    out.mkdir()
    schedule_now(webmon, "report", "", task="tests.workflow_tasks.WriteReport", retries=0,
                 task_params={"out_dir": str(out), "rows": "2", "tags": ["eu", "daily"], "fmt": "json"})
    webmon.daemon()
    done = webmon.wait_for("report", ("success", "failed", "timed_out"))
    assert done["state"] == "success", done
    (written,) = out.glob("report-*.json")
    report = json.loads(written.read_text())
    assert report["rows"] == ["row 0", "row 1"] and report["tags"] == ["eu", "daily"]
    assert report["scheduled_run"] == str(done["id"])  # CRAWLOPS_SCHEDULED_RUN reached the task
    # luigid ran it (its task history) and the worker wrote a run record for it.
    assert history(luigid, "SELECT e.event_name FROM tasks t JOIN task_events e ON e.task_id = t.id "
                           "WHERE t.name = 'WriteReport' ORDER BY e.id")[-1] == ("DONE",)
    assert history(luigid, "SELECT status, attempt FROM crawl_runs WHERE family = 'WriteReport'") == [("done", 1)]


def test_a_failing_workflow_task_is_retried_then_fails_with_its_error_line(
        webmon: Webmon, tmp_path: Path) -> None:
    attempts = tmp_path / "attempts.txt"
    schedule_now(webmon, "load", "", task="tests.workflow_tasks.LoadWarehouse", retries=1,
                 retry_delay_seconds=1, retry_exponential=False, task_params={"attempts_file": str(attempts)})
    webmon.daemon()
    failed = webmon.wait_for("load", ("failed", "success"))
    assert failed["state"] == "failed" and failed["attempts"] == 2, failed
    assert failed["reason"].startswith("exit code 30: a task failed: RuntimeError: the warehouse refused the load")
    assert len(attempts.read_text().splitlines()) == 2  # it really ran twice
    state = webmon.shell("from webmon.scheduling.models import Schedule; print(Schedule.objects.get(name='load').state)")
    assert state == "down"


def test_a_timeout_kills_the_workflow_task_and_its_children(webmon: Webmon, tmp_path: Path) -> None:
    pids = tmp_path / "pids.txt"
    schedule_now(webmon, "slow", "", task="tests.workflow_tasks.SlowExport", retries=0, timeout_seconds=3,
                 task_params={"pid_file": str(pids)})
    webmon.daemon()
    done = webmon.wait_for("slow", ("timed_out", "failed", "success"))
    assert done["state"] == "timed_out" and done["reason"] == "timed out after 3 s", done
    worker, child = (int(p) for p in pids.read_text().split())
    deadline = time.monotonic() + 10
    while (pid_alive(worker) or pid_alive(child)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not pid_alive(worker) and not pid_alive(child)  # the whole process group, the `sleep` too


def test_a_class_removed_under_the_running_daemon_is_refused_and_the_daemon_goes_on(
        webmon: Webmon, tmp_path: Path) -> None:
    module = tmp_path / "code" / "team_e2e.py"
    module.write_text(textwrap.dedent(TEAM))
    out = tmp_path / "out"
    out.mkdir()
    schedule_now(webmon, "nightly", "", task="team_e2e.Nightly", retries=2, task_params={"out": str(out)})
    daemon = webmon.daemon()
    assert webmon.wait_for("nightly", ("success", "failed"))["state"] == "success"
    assert len(list(out.glob("nightly-*"))) == 1

    module.write_text(textwrap.dedent(TEAM).replace("class Nightly", "class Weekly"))  # a refactoring
    queue_manual(webmon, "nightly")
    refused = webmon.wait_for("nightly", ("failed", "success"))
    assert refused["state"] == "failed", refused
    assert refused["reason"] == "Module team_e2e has no class Nightly; its Luigi tasks: Weekly."
    assert refused["attempts"] == 1 and refused["pid"] is None  # final: not started, not retried

    module.write_text(textwrap.dedent(TEAM))  # the class is back: the daemon, still running, starts it
    assert daemon.poll() is None
    webmon.shell(
        "from webmon.scheduling import states; from webmon.scheduling.models import ScheduledRun as R;"
        f"states.rerun(R.objects.get(pk={refused['id']}), by='operator')")
    assert webmon.wait_for("nightly", ("success", "failed"))["state"] == "success"
    assert daemon.poll() is None
