"""The `history` alias is built from luigi.cfg, following LUIGI_CONFIG_PATH."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from webmon_support import ROOT, Manage, runnable_elsewhere, write_luigi_cfg

PRINT_HISTORY = "from django.conf import settings; print(settings.DATABASES['history'])"


def history_settings(manage: Manage, cfg: Path | None, cwd: Path = ROOT) -> dict[str, Any]:
    result = manage("shell", "-c", PRINT_HISTORY, env={"LUIGI_CONFIG_PATH": str(cfg) if cfg else None}, cwd=cwd)
    assert result.returncode == 0, result.stderr
    return ast.literal_eval(result.stdout.strip().splitlines()[-1])


def test_the_history_alias_follows_luigi_config_path(manage: Manage, tmp_path: Path) -> None:
    db = tmp_path / "elsewhere" / "history.db"
    cfg = write_luigi_cfg(tmp_path, f"sqlite:///{db}")
    history = history_settings(manage, cfg)
    assert history["ENGINE"] == "django.db.backends.sqlite3"
    assert history["NAME"] == str(db)
    assert history["OPTIONS"]["init_command"] == "PRAGMA query_only = ON"


def test_without_luigi_config_path_it_reads_the_repository_luigi_cfg(manage: Manage) -> None:
    assert history_settings(manage, None)["NAME"] == str(ROOT / "var" / "history.db")


def test_a_relative_sqlite_history_path_is_relative_to_the_repository_root(manage: Manage, tmp_path: Path) -> None:
    cfg = write_luigi_cfg(tmp_path, "sqlite:///var/other-history.db")
    # Run from another folder: the path must not follow the working directory.
    history = history_settings(manage, cfg, cwd=runnable_elsewhere(tmp_path))
    assert history["NAME"] == str(ROOT / "var" / "other-history.db")


def test_a_postgres_history_db_becomes_a_read_only_postgres_alias(manage: Manage, tmp_path: Path) -> None:
    cfg = write_luigi_cfg(tmp_path, "postgresql+psycopg2://luigi:p%%40ss@db.example.com:5433/history")
    history = history_settings(manage, cfg)
    assert (history["ENGINE"], history["HOST"], history["PORT"], history["NAME"]) == (
        "django.db.backends.postgresql", "db.example.com", "5433", "history")
    assert history["PASSWORD"] == "p@ss"  # luigi.cfg escapes % as %% (ConfigParser interpolation)
    assert history["OPTIONS"] == {"options": "-c default_transaction_read_only=on"}


def test_a_luigi_cfg_without_task_history_is_refused_with_a_sentence(manage: Manage, tmp_path: Path) -> None:
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text("[core]\nlog_level = INFO\n")
    # From a folder with no luigi.cfg, so only LUIGI_CONFIG_PATH is read.
    result = manage("check", env={"LUIGI_CONFIG_PATH": str(cfg)}, cwd=runnable_elsewhere(tmp_path))
    assert result.returncode != 0
    assert "Luigi's configuration has no [task_history] db_connection" in result.stderr

