"""manage.py works from a fresh clone with no setup."""

from __future__ import annotations

import shutil
import sqlite3
import stat
from pathlib import Path

from webmon_support import ROOT, Manage


def test_a_fresh_clone_checks_and_migrates_with_no_setup(manage: Manage, tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "webmon", clone / "webmon", ignore=ignore)
    shutil.copytree(ROOT / "pipelines", clone / "pipelines", ignore=ignore)  # webmon reads [runs] through it
    shutil.copy(ROOT / "manage.py", clone)
    shutil.copy(ROOT / "luigi.cfg", clone)
    no_setup = {"DATABASE_URL": None, "SECRET_KEY": None, "DEBUG": None, "LUIGI_CONFIG_PATH": None}

    check = manage("check", env=no_setup, cwd=clone)
    assert check.returncode == 0, check.stderr
    migrate = manage("migrate", "--no-input", env=no_setup, cwd=clone)
    assert migrate.returncode == 0, migrate.stderr

    with sqlite3.connect(clone / "var" / "webmon.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"auth_user", "django_session", "django_migrations"} <= tables
    assert stat.S_IMODE((clone / "var" / "secret_key").stat().st_mode) == 0o600
    # webmon neither creates nor touches Luigi's history DB.
    assert not (clone / "var" / "history.db").exists()


def test_the_checkout_passes_the_system_checks(manage: Manage) -> None:
    result = manage("check")
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
