"""luigid with task history on records rows: the pinned luigi and SQLAlchemy work together.

luigi 3.8.1 crashes when luigid starts with task history on SQLAlchemy 2.x;
requirements.txt pins SQLAlchemy 1.4. This test fails if that pair breaks.
"""

from __future__ import annotations

import subprocess
from importlib.metadata import version
from pathlib import Path

import sqlalchemy as sa

from tests.conftest import PYTHON, ROOT, Luigid


def pinned(name: str) -> str:
    for line in (ROOT / "requirements.txt").read_text().splitlines():
        if line.lower().startswith(name.lower() + "=="):
            return line.split("==", 1)[1].strip()
    raise AssertionError(f"{name} is not pinned in requirements.txt")


def test_the_installed_versions_are_the_pinned_ones() -> None:
    assert version("luigi") == pinned("luigi")
    assert version("SQLAlchemy") == pinned("SQLAlchemy")


def test_luigid_records_tasks_events_and_parameters(luigid: Luigid, tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    result = subprocess.run(
        [PYTHON, "-m", "luigi", "--module", "tests.tiny_tasks", "Touch", "--path", str(target)],
        cwd=ROOT, env=luigid.env(), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert target.read_text() == "done\n"
    engine = sa.create_engine(luigid.history_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT e.event_name FROM tasks t JOIN task_events e ON e.task_id = t.id "
            "JOIN task_parameters p ON p.task_id = t.id "
            "WHERE t.name = 'Touch' AND p.name = 'path' AND p.value = :v ORDER BY e.id"), {"v": str(target)})
        events = [r[0] for r in rows]
    assert events == ["PENDING", "RUNNING", "DONE"]
