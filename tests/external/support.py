"""Helpers of the external-crawler tests: the luigi CLI on pipelines.external, pids, the run records."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path
from typing import Any

from pipelines.runs.sweep import pid_alive
from tests.conftest import PYTHON, ROOT, Luigid
from tests.runs.support import log_of, runs_where

SCRIPTS = Path(__file__).resolve().parent / "scripts"
TOOL = SCRIPTS / "tool.py"
AT = "2026-11-21T0730"


def luigi_argv(task: str, *args: str) -> list[str]:
    return [PYTHON, "-m", "luigi", "--module", "pipelines.external", task, *args]


def run(luigid: Luigid, task: str, *args: str, timeout: float = 180, **env: str) -> subprocess.CompletedProcess[str]:
    """`python -m luigi --module pipelines.external TASK ARGS` against this luigid, to the end."""
    return subprocess.run(luigi_argv(task, *args), cwd=ROOT, env={**luigid.env(), **env}, capture_output=True,
                          text=True, timeout=timeout)


def start(luigid: Luigid, task: str, *args: str) -> subprocess.Popen[str]:
    """The same in the background, in a session of its own as the trigger daemon starts workers."""
    return subprocess.Popen(luigi_argv(task, *args), cwd=ROOT, env=luigid.env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def script(luigid: Luigid, name: str, *tool_args: str, extra: tuple[str, ...] = (), **env: str
           ) -> subprocess.CompletedProcess[str]:
    args = '["' + '", "'.join(tool_args) + '"]'
    return run(luigid, "PythonScript", "--path", str(TOOL), "--args", args, "--name", name, "--at", AT, *extra, **env)


def record(luigid: Luigid, family: str, name: str) -> dict[str, Any]:
    rows = runs_where(luigid, family=family, name=name)
    assert len(rows) == 1, rows
    return rows[0]


def messages(luigid: Luigid, run_id: int) -> list[str]:
    return [row["message"] for row in log_of(luigid, run_id)]


alive = pid_alive  # a zombie is dead too: only its parent has not reaped it yet


def gone(pids: list[int], seconds: float = 15) -> bool:
    """True once none of `pids` is a live process (orphans take a moment to be signalled and reaped)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not any(alive(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def read_pids(path: Path, seconds: float = 60) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if path.exists():
            return [int(p) for p in path.read_text().split()]
        time.sleep(0.1)
    raise AssertionError(f"{path} was not written within {seconds} s")
