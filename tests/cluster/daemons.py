"""Trigger daemons in namespace hosts, on one webmon DB on the cluster's PostgreSQL.

As docs/operations.md "Several worker hosts" sets a cluster up: every host
runs `manage.py trigger --slots N` with the same DATABASE_URL (webmon's DB),
LUIGI_CONFIG_PATH (luigid, history and items DBs, the shared data folder)
and LUIGID_URL. The webmon DB is migrated once, from the root namespace
(which reaches the bridge address too); schedules and runs are made and read
with `manage.py shell` there, so the test process's own Django (its test DB)
is never involved.
"""

from __future__ import annotations

import json
import shlex
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.cluster.netns import Cluster, _kill_namespace_processes, kill_group
from tests.cluster.services import ClusterLuigid
from tests.conftest import PYTHON, ROOT


@dataclass
class ClusterWebmon:
    """The webmon DB every host's daemon shares, and how to reach it with manage.py."""

    luigid: ClusterLuigid
    database_url: str
    home: Path
    host_lost_after: int = 10
    daemons: dict[str, subprocess.Popen] = field(default_factory=dict)

    def env(self, **extra: str) -> dict[str, str]:
        return self.luigid.worker_env(
            DATABASE_URL=self.database_url, SECRET_KEY="tests-only-not-a-secret-" + "x" * 40,
            LUIGID_URL=self.luigid.url, WEBMON_BASE_URL="http://127.0.0.1:8000",
            RUN_OUTPUT_DIR=str(self.home / "run-output"), TRIGGER_HOST_LOST_S=str(self.host_lost_after), **extra)

    def manage(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        result = subprocess.run([PYTHON, str(ROOT / "manage.py"), *args], cwd=ROOT, env=self.env(),
                                capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise RuntimeError(f"manage.py {' '.join(args)} failed ({result.returncode}):\n{result.stderr[-3000:]}")
        return result

    def migrate(self) -> None:
        """What the webmon unit does before it starts: migrate, and prepare the history DB (run tables)."""
        self.manage("migrate", "--noinput", "-v", "0")
        self.manage("prepare_history", "-v", "0")

    def django(self, code: str) -> object:
        """Run `code` in `manage.py shell`; it sets `result`, returned as JSON-decoded data."""
        script = ("import json\nfrom webmon.scheduling.models import Schedule, ScheduledRun, DaemonHeartbeat\n"
                  f"{code}\nprint('@@' + json.dumps(result, default=str))")
        out = self.manage("shell", "-c", script).stdout
        return json.loads(out.rsplit("@@", 1)[1])

    def start_daemon(self, cluster: Cluster, host: str, slots: int, idle_sleep: float = 0.2) -> subprocess.Popen:
        """The worker unit's daemon in `host`, TRIGGER_SLOTS=`slots`; its output in <home>/trigger-<host>.log."""
        argv, unit_env = worker_unit()
        env = {**self.env(), **unit_env, "TRIGGER_SLOTS": str(slots),
               "LUIGI_CONFIG_PATH": str(self.luigid.config)}  # for the unit's /etc/crawlops/luigi.cfg
        log = open(self.home / f"trigger-{host}.log", "ab")
        proc = cluster.run_in(host, [*argv, "--idle-sleep", str(idle_sleep)],
                              env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        self.daemons[host] = proc
        return proc

    def stop_daemons(self) -> None:
        for proc in self.daemons.values():
            kill_group(proc)
        self.daemons.clear()

    def daemon_log(self, host: str) -> str:
        path = self.home / f"trigger-{host}.log"
        return path.read_text(errors="replace") if path.exists() else ""


WORKER_UNIT = ROOT / "deploy/systemd/crawlops-worker.service"


def worker_unit() -> tuple[list[str], dict[str, str]]:
    """ExecStart (the venv's python is this one, the working directory this checkout) and the
    Environment= settings of deploy/systemd/crawlops-worker.service: the daemon is started as the unit
    starts it."""
    argv: list[str] = []
    env: dict[str, str] = {}
    for line in WORKER_UNIT.read_text().splitlines():
        key, _, value = line.partition("=")
        if key == "ExecStart":
            argv = shlex.split(value)
        elif key == "Environment":
            name, _, setting = value.partition("=")
            env[name] = setting
    if not argv or not argv[0].endswith("/.venv/bin/python"):
        raise AssertionError(f"{WORKER_UNIT}: ExecStart is not the venv's python: {argv}")
    return [PYTHON, *argv[1:]], env


def kill_host(cluster: Cluster, host: str) -> None:
    """The host dies at once: every process in its namespace gets SIGKILL (daemon, workers, page processes)."""
    _kill_namespace_processes(cluster[host].netns)
