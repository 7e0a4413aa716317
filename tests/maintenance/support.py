"""Running the maintenance tasks and restoredb the way operators do: as processes."""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path

from tests.conftest import PYTHON, ROOT, Luigid


def run_task(server: Luigid, *args: str, local: bool = True, **env: str) -> subprocess.CompletedProcess:
    """`python -m luigi --module pipelines.maintenance.tasks ARGS` with the server's luigi.cfg."""
    extra = ["--local-scheduler"] if local else []
    return subprocess.run(
        [PYTHON, "-m", "luigi", "--module", "pipelines.maintenance.tasks", *args, *extra],
        cwd=ROOT, env=server.env(**env), capture_output=True, text=True, timeout=300,
    )


def backup(server: Luigid, db: str, date: dt.date, **env: str) -> subprocess.CompletedProcess:
    return run_task(server, "BackupDatabase", "--db", db, "--date", date.isoformat(), **env)


def restoredb(server: Luigid, *args: str, input: str | None = None, **env: str) -> subprocess.CompletedProcess:
    env.setdefault("DATABASE_URL", f"sqlite:///{server.home}/webmon.db")
    env.setdefault("SECRET_KEY", "test-secret-key-for-restoredb-0123456789abcdef")
    return subprocess.run(
        [PYTHON, "manage.py", "restoredb", *args], cwd=ROOT, env=server.env(**env),
        capture_output=True, text=True, timeout=300, input=input,
    )


def backups_dir(server: Luigid) -> Path:
    return server.home / "backups"
