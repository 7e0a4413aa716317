"""Helpers of the run-record tests: run the test tasks through the real luigi CLI, read what they recorded."""

from __future__ import annotations

import json
import subprocess
import time
import urllib.parse
import urllib.request
from typing import Any

import sqlalchemy as sa

from pipelines.runs.models import run_logs, runs
from tests.conftest import PYTHON, ROOT, Luigid


def luigi_argv(task: str, *args: str) -> list[str]:
    return [PYTHON, "-m", "luigi", "--module", "tests.runs.run_tasks", task, *args]


def run_task(luigid: Luigid, task: str, *args: str, timeout: float = 120,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m luigi --module tests.runs.run_tasks TASK ARGS` against this luigid, to the end."""
    return subprocess.run(luigi_argv(task, *args), cwd=ROOT, env=luigid.env(**(env or {})), capture_output=True,
                          text=True, timeout=timeout)


def start_task(luigid: Luigid, task: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(luigi_argv(task, *args), cwd=ROOT, env=luigid.env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def engine(luigid: Luigid) -> sa.engine.Engine:
    return sa.create_engine(luigid.history_url, future=True)


def runs_where(luigid: Luigid, **equal: Any) -> list[dict[str, Any]]:
    """Run records with these column values, oldest first; `name=` matches the task's name parameter."""
    query = sa.select(runs).order_by(runs.c.id)
    name = equal.pop("name", None)
    for column, value in equal.items():
        query = query.where(runs.c[column] == value)
    if name is not None:
        query = query.where(runs.c.params.like(f'%"name": "{name}"%'))
    db = engine(luigid)
    with db.connect() as conn:
        rows = [dict(r) for r in conn.execute(query).mappings()]
    db.dispose()
    return rows


def one_run(luigid: Luigid, **equal: Any) -> dict[str, Any]:
    rows = runs_where(luigid, **equal)
    assert len(rows) == 1, rows
    return rows[0]


def log_of(luigid: Luigid, run_id: int) -> list[dict[str, Any]]:
    db = engine(luigid)
    with db.connect() as conn:
        rows = [dict(r) for r in conn.execute(
            sa.select(run_logs).where(run_logs.c.run_id == run_id).order_by(run_logs.c.seq)).mappings()]
    db.dispose()
    return rows


def wait_for(condition: Any, timeout: float = 30, message: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"{message} not met within {timeout} s")


def task_list(luigid: Luigid, status: str, search: str) -> dict[str, dict[str, Any]]:
    """luigid's /api/task_list, as the visualiser asks it."""
    data = json.dumps({"status": status, "upstream_status": "", "search": search})
    url = f"{luigid.url}/api/task_list?data={urllib.parse.quote(data)}"
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())["response"]
