"""Helpers shared by webmon's tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

Manage = Callable[..., subprocess.CompletedProcess[str]]


def write_luigi_cfg(folder: Path, db_connection: str) -> Path:
    """A luigi.cfg in `folder` whose [task_history] names `db_connection`."""
    cfg = folder / "luigi.cfg"
    cfg.write_text(f"[task_history]\ndb_connection = {db_connection}\n")
    return cfg


def runnable_elsewhere(folder: Path) -> Path:
    """A new folder under `folder` with a manage.py that imports webmon from the repository.

    For running webmon from a working directory other than the repository root.
    """
    target = folder / "run"
    target.mkdir()
    source = (ROOT / "manage.py").read_text()
    (target / "manage.py").write_text(source.replace("import sys\n", f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n", 1))
    return target


@dataclass(frozen=True)
class LuigiHistory:
    """A history DB written by Luigi, and when (aware UTC) it was written."""

    db: Path
    cfg: Path
    before: datetime
    after: datetime
