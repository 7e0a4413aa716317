"""A schedule whose spec is broken: its run fails with the spec's sentence, on the page and in its output.

The daemon checks the spec before it starts a run (webmon/scheduling/precheck.py);
a luigi process that finds the spec broken anyway (it broke after the check,
or a command of its own) is read by its ERROR line (pipelines/cli_errors.py).
"""

from __future__ import annotations

import html
import socket
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.test import Client, override_settings

from pipelines.exceptions import SpecError
from pipelines.spec import load_spec
from tests.conftest import PYTHON, ROOT
from tests.scheduling.schedule_world import fresh_fixture, manager_fixture  # noqa: F401
from webmon.scheduling.daemon import Trigger
from webmon.scheduling.models import Schedule, ScheduledRun, ScheduleEvent
from webmon.scheduling.precheck import spec_problem

pytestmark = pytest.mark.usefixtures("fresh")

T0 = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
DEMO = (ROOT / "pipelines/crawls/demo.toml").read_text()


@pytest.fixture
def specs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """[crawl] spec_dirs of this test (the daemon and the luigi processes it starts): a broken `shop`."""
    folder = tmp_path / "crawls"
    folder.mkdir()
    (folder / "shop.toml").write_text(DEMO.replace('name = "demo"', 'name = "shop"')
                                      .replace("concurrency = 16", 'concurrency = "four"'))
    monkeypatch.setenv("CRAWL_SPEC_DIRS", str(folder))
    return folder


def sentence(folder: Path, name: str = "shop") -> str:
    with pytest.raises(SpecError) as caught:
        load_spec(name, [folder])
    return str(caught.value)


def due_schedule(**values: object) -> Schedule:
    """A schedule of `shop` with one tick due at T0."""
    defaults: dict[str, object] = dict(name="shop-half-hourly", crawl="shop", cron="*/30 * * * *",
                                       start_at=T0 - timedelta(days=1), last_tick=T0 - timedelta(minutes=30),
                                       catchup="all", retries=2)
    defaults.update(values)
    return Schedule.objects.create(**defaults)


def daemon(tmp_path: Path, **values: object) -> Trigger:
    return Trigger(name=f"{socket.gethostname()}:spec-test", clock=lambda: T0, output_dir=tmp_path / "var" / "runs",
                   **values)


def test_a_broken_spec_fails_its_run_with_the_sentence_without_starting_it(
        specs: Path, tmp_path: Path, manager: Client) -> None:
    schedule = due_schedule()
    trigger = daemon(tmp_path)
    assert trigger.plan(T0)
    assert trigger.start(T0)  # the default command: the real luigi CLI, had the spec loaded

    run = schedule.runs.get()
    expected = sentence(specs)
    assert expected.endswith("shop.toml: fetch.concurrency: expected a whole number >= 1, got the string 'four'")
    assert run.state == ScheduledRun.FAILED  # final: retries cannot mend a file
    assert run.reason == expected
    assert run.pid is None and run.exit_code is None and run.attempts == 1
    assert not trigger.children
    output = Path(run.output_path).read_text()
    assert output.splitlines()[-1] == f"not started: {expected}"

    schedule.refresh_from_db()
    assert schedule.state == Schedule.DOWN
    event = ScheduleEvent.objects.get(schedule=schedule)
    assert (event.reason, event.detail) == ("failed", expected)

    page = manager.get(f"/schedules/{schedule.pk}/").content.decode()
    assert f'<td class="error-line" title="{html.escape(expected)}">{html.escape(expected)}' in page
    assert "Traceback" not in page
    with override_settings(VAR_DIR=tmp_path / "var"):
        served = manager.get(f"/schedules/{schedule.pk}/runs/{run.pk}/output.txt")
        assert served.status_code == 200
        assert f"not started: {expected}" in b"".join(served.streaming_content).decode()


def test_once_the_spec_is_fixed_the_check_lets_its_runs_start(specs: Path, tmp_path: Path) -> None:
    schedule = due_schedule()
    trigger = daemon(tmp_path)
    trigger.plan(T0)
    trigger.start(T0)
    run = schedule.runs.get()
    assert run.state == ScheduledRun.FAILED

    (specs / "shop.toml").write_text(DEMO.replace('name = "demo"', 'name = "shop"'))
    assert spec_problem(run) is None  # the next tick, or a rerun, is started


def test_the_luigi_process_finding_the_spec_broken_gives_the_sentence_as_the_error(
        specs: Path, tmp_path: Path) -> None:
    # The check passed (or a command of its own ran): the luigi process is the one that finds the spec broken.
    schedule = due_schedule(retries=0)
    command = [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", "shop",
               "--at", "2026-11-21T0730", "--local-scheduler"]
    trigger = daemon(tmp_path, command=lambda run: command)
    trigger.plan(T0)
    trigger.start(T0)
    deadline = time.monotonic() + 60
    while trigger.children and time.monotonic() < deadline:
        trigger.reap(T0)
        time.sleep(0.05)

    run = schedule.runs.get()
    expected = sentence(specs)
    assert run.state == ScheduledRun.FAILED and run.exit_code == 35
    assert run.reason == f"exit code 35: scheduling error (e.g. a broken spec): {expected}"
    output = Path(run.output_path).read_text()
    assert f"ERROR: {expected}\n" in output
    assert "Traceback" not in output


def test_a_spec_hook_that_exits_on_import_does_not_stop_the_daemon(specs: Path, tmp_path: Path) -> None:
    (specs / "exits_on_import.py").write_text("raise SystemExit(3)\n")
    hooked = DEMO.replace('name = "demo"', 'name = "hooked"\nparse_hook = "exits_on_import:parse"')
    (specs / "hooked.toml").write_text(hooked)
    schedule = due_schedule(crawl="hooked")
    run = ScheduledRun.objects.create(schedule=schedule, logical_time=T0, state=ScheduledRun.RUNNING)
    assert spec_problem(run) is None  # logged; the run is started and its own process says what is wrong
