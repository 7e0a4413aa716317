"""Schedules of any Luigi task class: which classes may be named, their parameters' sentences, the command.

The user's module is tests/workflow_tasks.py, allowed through CRAWLOPS_WORKFLOW_MODULES
(or luigi.cfg's [workflows] modules). Modules that change or break are written into a
temporary folder on sys.path, as a team's code would change under a running daemon.
"""

from __future__ import annotations

import html
import json
import socket
import sys
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

import luigi
import pytest
from django.conf import settings
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.test import Client

from tests.scheduling.schedule_world import (  # noqa: F401
    admin_client_fixture,
    fresh_fixture,
    manager_fixture,
)
from webmon.scheduling import kinds
from webmon.scheduling.daemon import Trigger, tick_complete
from webmon.scheduling.models import Schedule, ScheduledRun, ScheduleEvent

pytestmark = pytest.mark.usefixtures("fresh")

T0 = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
REPORT = "tests.workflow_tasks.WriteReport"
LOAD = "tests.workflow_tasks.LoadWarehouse"


@pytest.fixture(autouse=True)
def workflows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """tests.workflow_tasks and the modules of a temporary folder (on sys.path) may be scheduled."""
    folder = tmp_path / "code"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.setenv(kinds.ENV, "pipelines.workflows, pipelines.external, tests.workflow_tasks, team_flows")
    monkeypatch.setattr(sys, "dont_write_bytecode", True)  # a rewritten module is read again, not its .pyc
    yield folder
    for name in [m for m in sys.modules if m == "team_flows" or m.startswith("team_flows.")]:
        del sys.modules[name]


def write_module(folder: Path, source: str, name: str = "team_flows") -> Path:
    path = folder / f"{name}.py"
    path.write_text(textwrap.dedent(source))
    return path


TEAM_FLOWS = """
    import luigi
    from pipelines.tasks import MinuteParameter

    class BuildReport(luigi.Task):
        '''Builds the team's report.'''
        title = luigi.Parameter()
        at = MinuteParameter()

        def run(self):
            pass
"""


def schedule(task: str, params: object = None, /, **values: object) -> Schedule:
    fields: dict[str, object] = dict(name="team", task=task, task_params={} if params is None else params,
                                     cron="*/30 * * * *", start_at=T0 - timedelta(days=1))
    fields.update(values)
    return Schedule(**fields)


def sentence(task: str, params: object = None, /, field: str = "task_params", **values: object) -> str:
    with pytest.raises(ValidationError) as caught:
        schedule(task, params, **values).full_clean()
    return " ".join(caught.value.message_dict[field])


# -- which classes --------------------------------------------------------------------

def test_the_shipped_tasks_are_offered_and_their_abstract_base_is_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(kinds.ENV)
    names = [kind.name for kind in kinds.known_kinds()]
    for shipped in ("pipelines.workflows.export.ExportItems", "pipelines.workflows.compare.PriceComparison",
                    "pipelines.workflows.demo.ShopReport", "pipelines.external.scrapy.ScrapySpider",
                    "pipelines.external.script.PythonScript"):
        assert shipped in names
    assert "pipelines.external.base.ExternalTask" not in names
    assert sentence("pipelines.external.base.ExternalTask", field="task") == (
        "pipelines.external.base.ExternalTask is an abstract base class (it leaves command, label to its "
        "subclasses).")


def test_by_default_pipelines_workflows_and_external_are_allowed_and_an_absent_one_breaks_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(kinds.ENV)
    assert kinds.configured_modules() == ["pipelines.workflows", "pipelines.external"]
    names = [kind.name for kind in kinds.known_kinds()]  # whether or not those packages exist in this checkout
    assert names[:3] == ["RunCrawl", "BackupDatabase", "PruneHistory"]
    problem = sentence("pipelines.external.no_such_module.Spider", field="task")
    assert problem.startswith("Cannot import module pipelines.external.no_such_module: ModuleNotFoundError: "
                              "No module named 'pipelines.external")


def test_luigi_cfg_workflows_modules_says_which_modules_and_packages_may_be_named(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(kinds.ENV)
    config = luigi.configuration.get_config()
    before = config.get("workflows", "modules", None)
    if not config.has_section("workflows"):
        config.add_section("workflows")
    try:
        config.set("workflows", "modules", "tests.workflow_tasks,  team_flows.exports")
        assert kinds.configured_modules() == ["tests.workflow_tasks", "team_flows.exports"]
        assert kinds.resolve(REPORT).family == "WriteReport"
        assert kinds.is_allowed("team_flows.exports.daily") and not kinds.is_allowed("team_flows")
        assert REPORT in [kind.name for kind in kinds.known_kinds()]
        assert sentence("os.path", field="task") == (
            "Module os is not a workflow module: schedules name tasks of pipelines.tasks and "
            "pipelines.maintenance.tasks and of luigi.cfg's [workflows] modules (tests.workflow_tasks, "
            "team_flows.exports); add it there to schedule its tasks.")
    finally:
        if before is None:
            config.remove_section("workflows")
        else:
            config.set("workflows", "modules", before)


@pytest.mark.parametrize(("task", "expected"), [
    ("tests.workflow_tasks.Nope",
     "Module tests.workflow_tasks has no class Nope; its Luigi tasks: WriteReport, LoadWarehouse, SlowExport."),
    ("tests.workflow_tasks.helper", "tests.workflow_tasks.helper is not a Luigi task (a subclass of luigi.Task)."),
    ("tests.workflow_tasks.Settings", "tests.workflow_tasks.Settings is a luigi.Config (settings), not a task."),
    ("tests.workflow_tasks.Upstream", "tests.workflow_tasks.Upstream is an external task (it has no run()): "
                                      "luigi can only wait for it, not run it."),
    ("Report", "Name the task as module.Class (e.g. pipelines.workflows.export.ExportItems) or as one of "
               "RunCrawl, BackupDatabase, PruneHistory; got 'Report'."),
    (" ", "Name the task as module.Class (e.g. pipelines.workflows.export.ExportItems) or as one of "
          "RunCrawl, BackupDatabase, PruneHistory; got ''."),
])
def test_a_task_that_cannot_be_scheduled_gets_a_sentence(task: str, expected: str) -> None:
    assert sentence(task, field="task") == expected


def test_a_module_that_fails_on_import_gives_its_reason(workflows: Path) -> None:
    write_module(workflows, "import luigi\nraise RuntimeError('the warehouse password is not set')\n")
    assert sentence("team_flows.BuildReport", field="task") == (
        "Cannot import module team_flows: RuntimeError: the warehouse password is not set.")
    write_module(workflows, "raise SystemExit(3)\n")
    assert sentence("team_flows.BuildReport", field="task") == "Cannot import module team_flows: SystemExit: 3."


def test_a_builtin_named_by_its_dotted_name_is_stored_by_its_short_name() -> None:
    backup = schedule("pipelines.maintenance.tasks.BackupDatabase", {"db": "items"})
    backup.full_clean()
    assert backup.task == "BackupDatabase"


# -- parameters -----------------------------------------------------------------------

@pytest.mark.parametrize(("task", "params", "expected"), [
    (REPORT, {"out_dir": "/r", "colour": "red"},
     "WriteReport has no parameter 'colour'; its parameters: out_dir, rows, fmt, since, tags, loud."),
    (REPORT, {"rows": 3}, "WriteReport needs out_dir (text): add it to the task parameters."),
    (REPORT, {"out_dir": "/r", "rows": "many"}, 'rows: expected a whole number, got "many".'),
    (REPORT, {"out_dir": "/r", "rows": 2.5}, "rows: expected a whole number, got 2.5."),
    (REPORT, {"out_dir": "/r", "rows": True}, "rows: expected a whole number, got true."),
    (REPORT, {"out_dir": "/r", "since": "2026-02-30"}, 'since: expected a date such as 2026-11-21, got "2026-02-30".'),
    (REPORT, {"out_dir": "/r", "fmt": "xml"}, 'fmt: expected one of csv, json, got "xml".'),
    (REPORT, {"out_dir": "/r", "tags": "a,b"}, 'tags: expected a JSON list, got "a,b".'),
    (REPORT, {"out_dir": 7}, "out_dir: expected text, got 7."),
    (REPORT, {"out_dir": "/r", "at": "2026-11-21T0730"},
     "at is the tick: the daemon passes each run's minute as --at; leave it out of the task parameters."),
    (LOAD, {"attempts_file": "/a", "date": "2026-11-21"},
     "date is the tick: the daemon passes each run's day as --date; leave it out of the task parameters."),
    (REPORT, ["/r"], "Expected a JSON object of WriteReport's parameters, e.g. {\"out_dir\": ...}."),
])
def test_task_params_that_do_not_fit_the_class_get_a_sentence(task: str, params: object, expected: str) -> None:
    assert sentence(task, params) == expected


def test_a_crawl_keeps_its_own_fields_and_other_tasks_take_no_crawl() -> None:
    assert sentence(REPORT, {"out_dir": "/r"}, field="crawl", crawl="demo") == (
        "Only a crawl (RunCrawl) takes a crawl; WriteReport takes task_params.")
    assert sentence(REPORT, {"out_dir": "/r"}, field="params", params={"max_pages": 5}) == (
        "Spec overrides are for crawls only: other tasks take task_params.")


def test_the_daemon_builds_the_command_from_the_class_parameters() -> None:
    report = schedule(REPORT, {"out_dir": "/srv/reports", "rows": "5", "tags": ["daily", "eu"], "loud": True,
                               "since": "2026-11-01", "fmt": "json"})
    report.full_clean()
    report.save()
    run = ScheduledRun.objects.create(schedule=report, logical_time=T0)
    assert Trigger(name="t").default_command(run) == [
        sys.executable, "-m", "luigi", "--module", "tests.workflow_tasks", "WriteReport",
        "--out-dir", "/srv/reports", "--rows", "5", "--fmt", "json", "--since", "2026-11-01",
        "--tags", '["daily", "eu"]', "--loud", "--at", "2026-11-21T0730", "--scheduler-url", settings.LUIGID_URL]


def test_a_value_that_looks_like_an_option_stays_a_value() -> None:
    report = schedule(REPORT, {"out_dir": "--help"})
    report.full_clean()
    report.save()
    run = ScheduledRun.objects.create(schedule=report, logical_time=T0)
    assert "--out-dir=--help" in Trigger(name="t").default_command(run)


def test_the_adopting_daemon_asks_the_task_whether_the_tick_is_complete(tmp_path: Path) -> None:
    report = schedule(REPORT, {"out_dir": str(tmp_path)})
    report.save()
    run = ScheduledRun.objects.create(schedule=report, logical_time=T0, state=ScheduledRun.RUNNING)
    assert not tick_complete(run)
    (tmp_path / "report-20261121T0730.csv").write_text("{}")
    assert tick_complete(run)


# -- the daemon refuses a run whose class vanished ------------------------------------------

def test_a_schedule_whose_class_vanished_is_refused_with_a_sentence(workflows: Path, tmp_path: Path) -> None:
    path = write_module(workflows, TEAM_FLOWS)
    team = schedule("team_flows.BuildReport", {"title": "weekly"}, last_tick=T0 - timedelta(minutes=30),
                    catchup="all", retries=3)
    team.full_clean()  # imports team_flows, as the admin would
    team.save()
    path.write_text(textwrap.dedent(TEAM_FLOWS).replace("BuildReport", "BuildSummary"))  # renamed in the code

    trigger = Trigger(name=f"{socket.gethostname()}:wf-test", clock=lambda: T0, output_dir=tmp_path / "runs")
    assert trigger.tick()
    run = team.runs.get()
    expected = "Module team_flows has no class BuildReport; its Luigi tasks: BuildSummary."
    assert (run.state, run.reason, run.attempts, run.pid) == (ScheduledRun.FAILED, expected, 1, None)
    assert not trigger.children  # nothing was started, and it is not retried
    assert Path(run.output_path).read_text().splitlines()[-1] == f"not started: {expected}"
    team.refresh_from_db()
    assert team.state == Schedule.DOWN
    assert ScheduleEvent.objects.get(schedule=team).detail == expected
    trigger.tick()  # the daemon goes on
    assert team.runs.get().state == ScheduledRun.FAILED


def test_a_parameter_added_without_a_default_refuses_the_next_run(workflows: Path, tmp_path: Path) -> None:
    path = write_module(workflows, TEAM_FLOWS)
    team = schedule("team_flows.BuildReport", {"title": "weekly"}, last_tick=T0 - timedelta(minutes=30))
    team.full_clean()
    team.save()
    path.write_text(textwrap.dedent(TEAM_FLOWS).replace("title = luigi.Parameter()",
                                                        "title = luigi.Parameter()\n    region = luigi.Parameter()"))
    Trigger(name="t", clock=lambda: T0, output_dir=tmp_path / "runs").tick()
    assert team.runs.get().reason == ("team_flows.BuildReport cannot run with these parameters: BuildReport needs "
                                      "region (text): add it to the task parameters.")


# -- admin and pages ------------------------------------------------------------------------

ADMIN_FORM = {
    "name": "reports", "task": REPORT, "crawl": "", "task_params": '{"out_dir": "/srv/reports"}',
    "cron": "0 6 * * *", "timezone": "UTC", "interval_seconds": "", "enabled": "on",
    "start_at_0": "2026-01-01", "start_at_1": "00:00:00", "end_at_0": "", "end_at_1": "",
    "catchup": "latest", "max_active_runs": "1", "overlap": "skip", "jitter_seconds": "0", "retries": "2",
    "retry_delay_seconds": "60", "retry_exponential": "on", "max_retry_delay_seconds": "3600",
    "timeout_seconds": "", "grace_seconds": "300", "params": "{}",
}


def test_the_admin_offers_the_known_classes_and_their_parameters(admin_client: Client) -> None:
    body = admin_client.get("/admin/scheduling/schedule/add/").content.decode()
    assert ('<input type="text" name="task" value="RunCrawl" size="60" maxlength="200" '
            'aria-describedby="id_task_helptext" id="id_task" list="id_task-options"><datalist id="id_task-options">'
            ) in body
    assert f'<option value="{REPORT}">Writes a small report for one tick (a team&#x27;s report task).</option>' in body
    assert '<option value="RunCrawl">One crawl tick: the whole chain. Complete when its items are stored.</option>' in body
    assert "tests.workflow_tasks.Settings" not in body and "tests.workflow_tasks.Upstream" not in body
    assert "<li><code>out_dir</code>: text, required (Folder of the reports.)</li>" in body
    assert "<li><code>at</code>: the tick&#x27;s minute (set by the daemon) (The tick.)</li>" in body


def test_the_admin_saves_a_workflow_schedule_and_shows_a_bad_value_next_to_the_field(admin_client: Client) -> None:
    response = admin_client.post("/admin/scheduling/schedule/add/", {**ADMIN_FORM, "task_params": '{"rows": "x"}'})
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["task_params"] == ['rows: expected a whole number, got "x".']
    response = admin_client.post("/admin/scheduling/schedule/add/", {**ADMIN_FORM, "task": "tests.gone.Task"})
    assert response.status_code == 200
    assert "Module tests.gone is not a workflow module" in response.context["adminform"].form.errors["task"][0]
    response = admin_client.post("/admin/scheduling/schedule/add/", ADMIN_FORM)
    assert response.status_code == 302, response.context["adminform"].form.errors
    saved = Schedule.objects.get(name="reports")
    assert (saved.task, saved.task_params, saved.crawl) == (REPORT, {"out_dir": "/srv/reports"}, "")


def test_the_pages_show_the_task_class_and_its_parameters_escaped(manager: Client) -> None:
    hostile = {"out_dir": "<script>alert(1)</script>", "tags": ["<b>x</b>"]}
    team = schedule(REPORT, hostile)
    team.save()
    listing = manager.get("/schedules/").content.decode()
    shown = html.escape(json.dumps(hostile, sort_keys=True))
    assert f'<code class="task-class">{REPORT}</code>' in listing
    assert f'<code class="task-params">{shown}</code>' in listing
    assert "<script>alert" not in listing and "<b>x</b>" not in listing
    page = manager.get(f"/schedules/{team.pk}/").content.decode()
    assert f'<dt>Task</dt><dd><code id="task-class">{REPORT}</code></dd>' in page
    assert f'<code id="task-params">{shown}</code> <small>(each run also gets --at: its tick)</small>' in page
    assert "<script>alert" not in page and 'id="task-problem"' not in page
    assert 'name="overrides"' not in page  # overrides are a crawl's
    assert "<dt>Crawl</dt>" not in page and "<dt>Overrides</dt>" not in page  # no empty rows of a crawl's fields


def test_the_schedule_page_says_why_its_task_cannot_run(manager: Client) -> None:
    team = schedule("tests.workflow_tasks.Removed")
    team.save()
    page = manager.get(f"/schedules/{team.pk}/").content.decode()
    assert ('<dd class="error-line" id="task-problem">Module tests.workflow_tasks has no class Removed; its Luigi '
            "tasks: WriteReport, LoadWarehouse, SlowExport.</dd>") in page


def test_trigger_now_of_a_workflow_takes_no_overrides(manager: Client) -> None:
    team = schedule(REPORT, {"out_dir": "/r"})
    team.save()
    response = manager.post(f"/schedules/{team.pk}/trigger/", {"overrides": '{"max_pages": 5}'})
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        f"Not triggered: Overrides are spec overrides of a crawl; {REPORT} runs with the schedule's task "
        "parameters (edit them in the admin)."]
    assert not ScheduledRun.objects.exists()
    manager.post(f"/schedules/{team.pk}/trigger/", {"overrides": ""})
    assert ScheduledRun.objects.get().trigger == ScheduledRun.MANUAL


def test_a_backfill_of_a_daily_workflow_queues_a_run_per_day_each_with_its_date() -> None:
    from io import StringIO

    from django.core.management import call_command

    load = schedule(LOAD, {"attempts_file": "/srv/load.txt"}, name="load", cron="0 7 * * *")
    load.full_clean()
    load.save()
    out = StringIO()
    call_command("backfill", "load", "--start", "2026-11-01", "--end", "2026-11-03", stdout=out)
    assert out.getvalue().startswith("queued 3 backfill runs of load")
    commands = [Trigger(name="t").default_command(run) for run in load.runs.order_by("logical_time")]
    assert [c[c.index("--date") + 1] for c in commands] == ["2026-11-01", "2026-11-02", "2026-11-03"]
    assert commands[0][3:8] == ["--module", "tests.workflow_tasks", "LoadWarehouse", "--attempts-file", "/srv/load.txt"]


def test_a_package_is_walked_and_its_broken_modules_are_skipped(workflows: Path, admin_client: Client) -> None:
    package = workflows / "team_flows"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "good.py").write_text(textwrap.dedent(TEAM_FLOWS))
    (package / "broken.py").write_text("raise SystemExit(2)\n")
    (package / "sub" / "__init__.py").write_text("raise RuntimeError('half-installed')\n")
    names = [kind.name for kind in kinds.known_kinds()]
    assert "team_flows.good.BuildReport" in names
    assert not [n for n in names if n.startswith(("team_flows.broken", "team_flows.sub"))]
    assert sentence("team_flows.broken.Anything", field="task") == "Cannot import module team_flows.broken: SystemExit: 2."
    page = admin_client.get("/admin/scheduling/schedule/add/")
    assert page.status_code == 200 and '<option value="team_flows.good.BuildReport">' in page.content.decode()
