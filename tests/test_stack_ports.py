"""The ports `./scheduler.sh up` used are used by every later command, from any shell.

A copy of the repository is brought up on free (non-default) ports; then a
NEW environment, without any of the port variables, runs what a user types:
`./scheduler.sh crawl demo`, the README's plain `python -m luigi` line, a
maintenance task, `status`, `crontab`, `manage.py`. Each must reach the
luigid `up` started (the task is in that luigid's task list), crawl the demo
site `up` started (urls.jsonl, items) and link runs and notices to the webmon
`up` started. Nothing here may touch the default ports 8082/8090/8000.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, Luigid, free_port
from tests.scheduling.test_trigger_e2e import Receiver, webhook  # noqa: F401 - webhook is a fixture

PORTS = {"LUIGID_PORT": free_port(), "DEMO_SITE_PORT": free_port(), "WEBMON_PORT": free_port()}
LUIGID = f"http://127.0.0.1:{PORTS['LUIGID_PORT']}"
DEMO = f"http://127.0.0.1:{PORTS['DEMO_SITE_PORT']}"
WEBMON = f"http://127.0.0.1:{PORTS['WEBMON_PORT']}"
PRODUCTS = 30
ADDRESS_VARIABLES = ("LUIGID_PORT", "DEMO_SITE_PORT", "WEBMON_PORT", "WEBMON_BASE_URL", "LUIGID_URL",
                     "LUIGI_CONFIG_PATH")
VENV = Path(sys.executable).parent.parent


def new_shell(**extra: str) -> dict[str, str]:
    """A login shell's environment: none of the address variables `up` was given."""
    env = {k: v for k, v in os.environ.items() if k not in ADDRESS_VARIABLES and not k.startswith("CRAWL_")}
    env.update(CRAWLOPS_VENV=str(VENV), DEMO_SITE_PRODUCTS=str(PRODUCTS), **extra)
    return env


def sh(checkout: Path, *args: str, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run([str(checkout / "scheduler.sh"), *args], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=timeout)


def plain_luigi(checkout: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`TZ=UTC .venv/bin/python -m luigi ARGS` from the repository root, as the README shows it."""
    return subprocess.run([str(VENV / "bin" / "python"), "-m", "luigi", *args], cwd=checkout,
                          env={**env, "TZ": "UTC"}, capture_output=True, text=True, timeout=150)


def tasks_of(luigid_url: str) -> dict[str, dict[str, Any]]:
    """luigid's task list (every state), by task id."""
    query = urllib.parse.urlencode({"data": json.dumps({})})
    with urllib.request.urlopen(f"{luigid_url}/api/task_list?{query}", timeout=10) as response:
        return json.load(response)["response"]


def the_task(luigid_url: str, family: str, **params: str) -> dict[str, Any]:
    found = [t for t in tasks_of(luigid_url).values()
             if t["name"] == family and all(t["params"].get(k) == v for k, v in params.items())]
    assert len(found) == 1, f"{family} {params} in {luigid_url}: {found}"
    return found[0]


def assert_crawled_the_stacks_demo_site(checkout: Path, tick: str) -> None:
    fetch = checkout / "var" / "data" / "demo" / tick / "fetch" / "urls.jsonl"
    urls = [json.loads(line)["url"] for line in fetch.read_text().splitlines()]
    assert urls and all(url.startswith(f"{DEMO}/") for url in urls), urls[:5]
    items = (checkout / "var" / "data" / "demo" / tick / "parse" / "items.jsonl").read_text().splitlines()
    assert len(items) == PRODUCTS


def pids(checkout: Path) -> dict[str, str]:
    return {p.stem: p.read_text().strip() for p in (checkout / "var" / "run").glob("*.pid")}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the working tree, up on the free ports given explicitly, as the user did."""
    dest = tmp_path_factory.mktemp("stack") / "crawlops"
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", ".pytest_cache"))
    up = sh(dest, "up", env=new_shell(**{k: str(v) for k, v in PORTS.items()}))
    try:
        assert up.returncode == 0, up.stdout[-2000:] + up.stderr[-3000:]
        yield dest
    finally:
        sh(dest, "down", env=new_shell())


def test_up_records_what_it_started(checkout: Path) -> None:
    record = (checkout / "var" / "run" / "stack.env").read_text()
    luigid_pid = pids(checkout)["luigid"]
    for line in (f"LUIGID_PID={luigid_pid}", f"LUIGID_PORT={PORTS['LUIGID_PORT']}",
                 f"DEMO_SITE_PORT={PORTS['DEMO_SITE_PORT']}", f"WEBMON_PORT={PORTS['WEBMON_PORT']}",
                 f"WEBMON_BASE_URL={WEBMON}"):
        assert line in record.splitlines()
    # up's own demo crawl links its runs to the webmon up started, not to :8000
    fetch = [t for t in tasks_of(LUIGID).values() if t["name"] == "FetchPages"]
    assert fetch and all(t["tracking_url"].startswith(f"{WEBMON}/runs/") for t in fetch), fetch


def test_crawl_from_a_new_shell_reaches_the_stacks_luigid_and_demo_site(checkout: Path) -> None:
    crawl = sh(checkout, "crawl", "demo", "--at", "2026-02-01T0000", env=new_shell())
    assert crawl.returncode == 0, crawl.stdout[-2000:] + crawl.stderr[-3000:]
    the_task(LUIGID, "RunCrawl", crawl="demo", at="2026-02-01T0000")
    fetch = the_task(LUIGID, "FetchPages", crawl="demo", at="2026-02-01T0000")
    assert fetch["tracking_url"].startswith(f"{WEBMON}/runs/"), fetch["tracking_url"]
    assert_crawled_the_stacks_demo_site(checkout, "20260201T0000Z")


def test_the_plain_luigi_cli_from_a_new_shell_reaches_the_stack(checkout: Path) -> None:
    run = plain_luigi(checkout, "--module", "pipelines.tasks", "RunCrawl", "--crawl", "demo",
                      "--at", "2026-02-01T0100", env=new_shell())
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    store = the_task(LUIGID, "StoreItems", crawl="demo", at="2026-02-01T0100")
    assert store["status"] == "DONE"
    assert store["tracking_url"].startswith(f"{WEBMON}/runs/"), store["tracking_url"]
    assert_crawled_the_stacks_demo_site(checkout, "20260201T0100Z")


def test_a_maintenance_task_from_a_new_shell_reaches_the_stacks_luigid(checkout: Path) -> None:
    run = plain_luigi(checkout, "--module", "pipelines.maintenance.tasks", "PruneHistory",
                      "--older-than-days", "90", "--date", "2026-02-01", env=new_shell())
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    prune = the_task(LUIGID, "PruneHistory", date="2026-02-01")
    assert prune["tracking_url"].startswith(f"{WEBMON}/runs/")


def test_the_command_line_still_wins_over_the_stack(checkout: Path, luigid: Luigid) -> None:
    run = plain_luigi(checkout, "--module", "pipelines.maintenance.tasks", "PruneHistory",
                      "--older-than-days", "91", "--date", "2026-02-01", "--scheduler-port", str(luigid.port),
                      env=new_shell())
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    the_task(luigid.url, "PruneHistory", older_than_days="91")
    assert not [t for t in tasks_of(LUIGID).values() if t["params"].get("older_than_days") == "91"]


def test_your_own_luigi_config_file_is_kept_and_the_difference_said(checkout: Path, luigid: Luigid) -> None:
    luigid.write_spec("demo", f"{DEMO}/")
    run = plain_luigi(checkout, "--module", "pipelines.tasks", "RunCrawl", "--crawl", "demo",
                      "--at", "2026-02-01T0200", env=new_shell(LUIGI_CONFIG_PATH=str(luigid.config)))
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-3000:]
    fetch = the_task(luigid.url, "FetchPages", crawl="demo", at="2026-02-01T0200")
    assert fetch["tracking_url"].startswith("http://127.0.0.1:8000/runs/")  # that file's [runs] webmon_url
    assert not [t for t in tasks_of(LUIGID).values() if t["params"].get("at") == "2026-02-01T0200"]
    assert f"the stack ./scheduler.sh up runs has luigid at {LUIGID}" in run.stderr


def test_webmon_commands_from_a_new_shell_use_the_stacks_addresses(checkout: Path) -> None:
    shell = subprocess.run(
        [str(VENV / "bin" / "python"), "manage.py", "shell", "-c",
         "from django.conf import settings; print(settings.LUIGID_URL, settings.WEBMON_BASE_URL)"],
        cwd=checkout, env=new_shell(), capture_output=True, text=True, timeout=60)
    assert shell.returncode == 0, shell.stderr[-3000:]
    assert shell.stdout.splitlines()[-1].split() == [LUIGID, WEBMON]


def test_notices_of_the_trigger_daemon_link_to_the_stacks_webmon(checkout: Path, webhook: str) -> None:  # noqa: F811
    Receiver.received.clear()
    create = subprocess.run(
        [str(VENV / "bin" / "python"), "manage.py", "shell", "-c",
         "from webmon.scheduling.models import Channel, Schedule, ScheduleEvent;"
         f"c = Channel.objects.create(name='hook', kind='webhook', target='{webhook}');"
         "s = Schedule.objects.get(name='demo'); s.channels.add(c);"
         "ScheduleEvent.objects.create(schedule=s, old_state='up', new_state='down', reason='failed', detail='test')"],
        cwd=checkout, env=new_shell(), capture_output=True, text=True, timeout=60)
    assert create.returncode == 0, create.stderr[-3000:]
    deadline = time.monotonic() + 30
    while not Receiver.received and time.monotonic() < deadline:
        time.sleep(0.2)
    assert Receiver.received, "the trigger daemon sent no notice"
    assert Receiver.received[0]["run_url"].startswith(f"{WEBMON}/schedules/"), Receiver.received[0]


def test_status_and_crontab_from_a_new_shell_say_where_the_stack_runs(checkout: Path) -> None:
    status = sh(checkout, "status", env=new_shell())
    assert status.returncode == 0, status.stderr
    lines = status.stdout.splitlines()
    assert any(line.startswith("luigid: running") and line.endswith(f"on {LUIGID}/") for line in lines), lines
    assert any(line.startswith("demo-site: running") and line.endswith(f"on {DEMO}/") for line in lines), lines
    assert any(line.startswith("webmon: running") and f"on {WEBMON}/, links to {WEBMON}/" in line for line in lines)
    crontab = sh(checkout, "crontab", env=new_shell())
    assert crontab.returncode == 0, crontab.stderr
    assert f"reach its luigid on 127.0.0.1:{PORTS['LUIGID_PORT']}" in crontab.stdout
    assert "LUIGID_PORT=" not in crontab.stdout  # nothing given: the lines follow the record


def test_a_second_up_from_a_new_shell_uses_the_recorded_ports(checkout: Path) -> None:
    before = pids(checkout)
    again = sh(checkout, "up", env=new_shell())
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-3000:]
    assert "luigid already running" in again.stdout and "webmon already running" in again.stdout
    assert f"luigid visualiser   {LUIGID}/" in again.stdout and f"webmon monitor      {WEBMON}/" in again.stdout
    assert pids(checkout) == before


def test_a_second_up_with_other_ports_says_what_runs_where_and_changes_nothing(checkout: Path) -> None:
    before, record = pids(checkout), (checkout / "var" / "run" / "stack.env").read_text()
    other = str(free_port())
    moved = sh(checkout, "up", env=new_shell(LUIGID_PORT=other, WEBMON_PORT=str(PORTS["WEBMON_PORT"])))
    assert moved.returncode == 1
    assert "the stack an earlier `./scheduler.sh up` started runs here:" in moved.stderr
    assert f"luigid     {LUIGID}/ (pid {before['luigid']})" in moved.stderr
    assert f"demo site  {DEMO}/" in moved.stderr and f"webmon     {WEBMON}/" in moved.stderr
    assert f"and LUIGID_PORT={other} asks for another address. Nothing was started or changed." in moved.stderr
    assert pids(checkout) == before
    assert (checkout / "var" / "run" / "stack.env").read_text() == record


def test_a_port_that_is_not_a_port_is_refused_with_a_sentence(checkout: Path) -> None:
    bad = sh(checkout, "crawl", "demo", env=new_shell(LUIGID_PORT="80a"))
    assert bad.returncode == 1
    assert "LUIGID_PORT=80a is not a port: expected a whole number from 1 to 65535" in bad.stderr


def test_down_removes_the_record_and_later_commands_say_nothing_runs(checkout: Path) -> None:
    down = sh(checkout, "down", env=new_shell())
    assert down.returncode == 0, down.stderr
    assert not (checkout / "var" / "run" / "stack.env").exists()
    crawl = sh(checkout, "crawl", "demo", env=new_shell())
    assert crawl.returncode == 1
    assert "luigid is not running: run ./scheduler.sh up first" in crawl.stderr
