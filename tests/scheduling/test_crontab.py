"""`manage.py crontab` and `scheduler.sh crontab`: crontab lines equivalent to the enabled schedules."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from tests.scheduling.schedule_world import (  # noqa: F401
    admin_client_fixture,
    fresh_fixture,
    make_schedule,
    manager_fixture,
)

pytestmark = pytest.mark.usefixtures("fresh")
ROOT = Path(__file__).resolve().parents[2]
AT = '--at "$(date -u +\\%Y-\\%m-\\%dT\\%H\\%M)"'


def crontab(*args: str) -> list[str]:
    out = StringIO()
    call_command("crontab", "--python", "/opt/crawlops/.venv/bin/python", "--repo", "/opt/crawl ops", *args, stdout=out)
    return out.getvalue().splitlines()


def test_a_cron_schedule_becomes_cron_tz_and_a_runcrawl_line() -> None:
    make_schedule("berlin", cron="30 2 * * 1-5", timezone="Europe/Berlin")
    lines = crontab()
    assert lines[-3:] == [
        f"# berlin (id {lines[-3].split('id ')[1].split(')')[0]}): crawl demo",
        "CRON_TZ=Europe/Berlin",
        "30 2 * * 1-5 cd '/opt/crawl ops' && TZ=UTC /opt/crawlops/.venv/bin/python -m luigi --module pipelines.tasks "
        f"RunCrawl --crawl demo {AT}",
    ]


def test_overrides_are_quoted_and_percent_escaped() -> None:
    make_schedule("with-params", params={"max_pages": 5, "fetch.user_agent": "bot 100%"})
    line = crontab()[-1]
    assert line.endswith(f'{AT} --overrides \'{{"fetch.user_agent": "bot 100\\%", "max_pages": 5}}\'')
    assert "%" not in line.replace("\\%", "")


def test_an_interval_schedule_gets_a_comment_not_a_line() -> None:
    make_schedule("quarter", cron="", interval_seconds=900, start_at=datetime(2026, 1, 1, 0, 7, tzinfo=UTC))
    make_schedule("odd", cron="", interval_seconds=420)
    lines = crontab()
    text = "\n".join(lines)
    assert "# every 900 s from 2026-01-01 00:07 UTC: cron cannot express an interval counted from a start time." in text
    assert "# Nearest cron: */15 * * * * (at multiples of 15 min past the hour)." in text
    assert "# every 420 s from" in text and text.count("Nearest cron") == 1
    assert not [line for line in lines if line and not line.startswith("#")]


def test_disabled_and_paused_schedules_are_left_out() -> None:
    make_schedule("off", enabled=False)
    make_schedule("paused", state="paused")
    assert crontab()[-1] == "# no enabled schedule"


def test_scheduler_sh_crontab_reads_the_webmon_db(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'webmon.db'}",
        "SECRET_KEY": "tests-only",
        "CRAWLOPS_VENV": str(Path(sys.executable).parent.parent),
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)

    assert run(sys.executable, "manage.py", "migrate", "-v", "0").returncode == 0
    made = run(
        sys.executable,
        "manage.py",
        "shell",
        "-c",
        "from webmon.scheduling.models import Schedule; "
        "Schedule.objects.create(name='nightly', crawl='demo', cron='0 3 * * *', timezone='Asia/Shanghai')",
    )
    assert made.returncode == 0, made.stderr
    result = run(str(ROOT / "scheduler.sh"), "crontab")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[-2] == "CRON_TZ=Asia/Shanghai"
    assert lines[-1] == (
        f"0 3 * * * cd {ROOT} && TZ=UTC {Path(sys.executable).parent.parent}/bin/python -m luigi "
        f"--module pipelines.tasks RunCrawl --crawl demo {AT}"
    )


def test_a_workflow_schedule_becomes_the_same_command_the_daemon_builds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRAWLOPS_WORKFLOW_MODULES", "tests.workflow_tasks")
    make_schedule("reports", crawl="", task="tests.workflow_tasks.WriteReport", cron="0 6 * * *",
                  task_params={"out_dir": "/srv/reports 100%", "tags": ["a", "b"]})
    make_schedule("load", crawl="", task="tests.workflow_tasks.LoadWarehouse", cron="0 7 * * *",
                  task_params={"attempts_file": "/srv/load.txt"})
    make_schedule("backup", crawl="", task="BackupDatabase", cron="0 2 * * *", task_params={"db": "items"})
    make_schedule("vanished", crawl="", task="tests.workflow_tasks.Removed", cron="0 8 * * *")
    lines = crontab()
    start = "cd '/opt/crawl ops' && TZ=UTC /opt/crawlops/.venv/bin/python -m luigi --module"
    assert f"0 2 * * * {start} pipelines.maintenance.tasks BackupDatabase --db items " \
           '--date "$(date -u +\\%Y-\\%m-\\%d)"' in lines
    assert f"0 7 * * * {start} tests.workflow_tasks LoadWarehouse --attempts-file /srv/load.txt " \
           '--date "$(date -u +\\%Y-\\%m-\\%d)"' in lines
    assert f"0 6 * * * {start} tests.workflow_tasks WriteReport --out-dir '/srv/reports 100\\%' " \
           f"--tags '[\"a\", \"b\"]' {AT}" in lines
    at = lines.index(next(line for line in lines if line.startswith("# vanished")))
    assert lines[at:at + 2] == [
        f"# vanished (id {lines[at].split('id ')[1].split(')')[0]}): tests.workflow_tasks.Removed",
        "# not listed: Module tests.workflow_tasks has no class Removed; its Luigi tasks: WriteReport, "
        "LoadWarehouse, SlowExport.",
    ]
