"""Django set up for webmon's tests (no pytest-django), and shared fixtures.

In-process tests run with an in-memory default DB and a fixed SECRET_KEY so
they never write var/ in the checkout. Tests of what happens at start-up
(env, luigi.cfg) run `manage.py` in a subprocess: settings load only once.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from webmon_support import ROOT, LuigiHistory, Manage, write_luigi_cfg

if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) from elsewhere
    sys.path.insert(0, str(ROOT))

os.environ["DJANGO_SETTINGS_MODULE"] = "webmon.settings"
os.environ["DATABASE_URL"] = "sqlite://"
os.environ["SECRET_KEY"] = "tests-only-not-a-secret"

import django  # noqa: E402

django.setup()

from django.db import connections  # noqa: E402


@pytest.fixture
def manage() -> Manage:
    """Run `python manage.py ARGS` with env overrides (None removes a variable)."""

    def run(*args: str, env: dict[str, str | None] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        full = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        return subprocess.run(
            [sys.executable, str(cwd / "manage.py"), *args],
            cwd=cwd, env=full, capture_output=True, text=True, timeout=120,
        )

    return run


# Luigi's own writer, driven the way luigid drives it (scheduled, started,
# finished), in a subprocess with TZ=UTC as luigid runs here.
_WRITER = textwrap.dedent("""
    from luigi.db_task_history import DbTaskHistory
    from luigi.scheduler import Task

    history = DbTaskHistory()
    ok = Task("RunCrawl_demo_a1", "PENDING", set(), family="RunCrawl",
              params={"crawl": "demo", "at": "2024-05-01T10:00"})
    bad = Task("FetchPages_shop_b2", "PENDING", set(), family="FetchPages",
               params={"crawl": "shop", "at": "2024-05-01T10:00"})
    for task, success in ((ok, True), (bad, False)):
        history.task_scheduled(task)
        history.task_started(task, "worker-1")
        history.task_finished(task, successful=success)
""")


@pytest.fixture
def luigi_history(tmp_path: Path) -> LuigiHistory:
    """A SQLite history DB written by luigi's DbTaskHistory: two tasks, three events each."""
    db = tmp_path / "history.db"
    cfg = write_luigi_cfg(tmp_path, f"sqlite:///{db}")
    before = datetime.now(UTC)
    subprocess.run(
        [sys.executable, "-c", _WRITER],
        cwd=tmp_path, env={**os.environ, "LUIGI_CONFIG_PATH": str(cfg), "TZ": "UTC"},
        check=True, capture_output=True, text=True, timeout=60,
    )
    return LuigiHistory(db=db, cfg=cfg, before=before, after=datetime.now(UTC))


@pytest.fixture
def history_db(luigi_history: LuigiHistory) -> Iterator[LuigiHistory]:
    """Point the `history` alias of this process at the luigi_history DB."""
    conn = connections["history"]
    conn.close()
    original = conn.settings_dict["NAME"]
    conn.settings_dict["NAME"] = str(luigi_history.db)
    try:
        yield luigi_history
    finally:
        conn.close()
        conn.settings_dict["NAME"] = original
