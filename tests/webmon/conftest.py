"""Django set up for webmon's tests (no pytest-django), and shared fixtures.

In-process tests (and manage.py subprocesses, unless a test says otherwise)
run with an in-memory default DB and a fixed SECRET_KEY, so they never write
var/ in the checkout. Tests of what happens at start-up (env, luigi.cfg) run
`manage.py` in a subprocess: settings load only once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from webmon_support import ROOT, LuigiHistory, Manage, record_luigi_history

if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) from elsewhere
    sys.path.insert(0, str(ROOT))

# What webmon's settings read in these tests. Set only while django.setup()
# loads the settings, then restored: other suites in this session (and their
# subprocesses) must not inherit them.
TEST_ENV = {"DATABASE_URL": "sqlite://", "SECRET_KEY": "tests-only-not-a-secret"}
_setup_env = {"DJANGO_SETTINGS_MODULE": "webmon.settings", **TEST_ENV}
if "LUIGI_CONFIG_PATH" not in os.environ and not Path("luigi.cfg").is_file():
    # Luigi looks for luigi.cfg in the working directory; this lets `pytest`
    # run from anywhere (read when luigi.configuration is first imported).
    _setup_env["LUIGI_CONFIG_PATH"] = str(ROOT / "luigi.cfg")
_saved_env = {key: os.environ.get(key) for key in _setup_env}
os.environ.update(_setup_env)
try:
    import django

    django.setup()
finally:
    for key, value in _saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

from django.db import connections  # noqa: E402


@pytest.fixture
def manage() -> Manage:
    """Run `python manage.py ARGS` with env overrides (None removes a variable)."""

    def run(*args: str, env: dict[str, str | None] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        full = {**os.environ, **TEST_ENV}
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


@pytest.fixture
def luigi_history(tmp_path: Path) -> LuigiHistory:
    """A SQLite history DB written by luigi's DbTaskHistory: two tasks, three events each."""
    return record_luigi_history(tmp_path, f"sqlite:///{tmp_path / 'history.db'}")


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
