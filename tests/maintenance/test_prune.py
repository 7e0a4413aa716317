"""PruneHistory on a 1,000,000-row SQLite history while crawls run through luigid on the same DB."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import PYTHON, ROOT, DemoSite, Luigid, make_luigid, start_demo_site, stop
from tests.maintenance.history_seed import seed_history
from tests.maintenance.support import backups_dir, run_task

LOCKED = "database is locked"


@pytest.fixture(scope="module")
def slow_site() -> Iterator[DemoSite]:
    site = start_demo_site(300, latency_ms=20)
    yield site
    stop(site.proc)


def start_crawl(server: Luigid, at: str) -> subprocess.Popen:
    return subprocess.Popen(
        [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", "prune-demo", "--at", at],
        cwd=ROOT, env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )


def count(engine: sa.engine.Engine, sql: str) -> int:
    with engine.connect() as conn:
        return conn.exec_driver_sql(sql).scalar_one()


def test_pruning_a_million_rows_while_crawls_run_loses_no_write(tmp_path: Path, slow_site: DemoSite) -> None:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    history = tmp_path / "history.db"
    seeded = seed_history(history, now, old_days=200, recent_days=1)
    assert seeded.rows == 1_000_000
    server = make_luigid(tmp_path / "home", history_url=f"sqlite:///{history}")
    server.write_spec("prune-demo", slow_site.url, max_pages=150)
    server.start()
    try:
        pruning = subprocess.Popen(
            [PYTHON, "-m", "luigi", "--module", "pipelines.maintenance.tasks", "PruneHistory",
             "--older-than-days", "90", "--date", now.date().isoformat(), "--batch-size", "2000", "--pause", "0.02"],
            cwd=ROOT, env=server.env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        crawls: list[tuple[subprocess.Popen, str]] = []
        minute = 0
        while pruning.poll() is None or not crawls:  # crawl after crawl for as long as the pruning lasts
            at = f"2026-01-01T{minute // 60:02d}{minute % 60:02d}"
            proc = start_crawl(server, at)
            output, _ = proc.communicate(timeout=300)
            crawls.append((proc, output))
            minute += 1
        prune_output, _ = pruning.communicate(timeout=600)
    finally:
        server.stop()

    assert pruning.returncode == 0, prune_output[-3000:]
    assert len(crawls) >= 2, "the pruning ended before a second crawl: it did not overlap enough"
    for proc, output in crawls:
        assert proc.returncode == 0, output[-3000:]
        assert LOCKED not in output
    assert LOCKED not in prune_output
    assert LOCKED not in (server.home / "luigid.log").read_text()

    engine = sa.create_engine(f"sqlite:///{history}")
    # Every crawl's tasks are in Luigi's history, each with its DONE event, and in our run records.
    done = count(engine, "SELECT count(DISTINCT t.id) FROM tasks t JOIN task_events e ON e.task_id = t.id"
                         " WHERE t.name = 'FetchPages' AND e.event_name = 'DONE'")
    assert done == len(crawls)
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE family = 'RunCrawl' AND status = 'done'") == len(crawls)
    # Old rows are gone, recent ones kept.
    assert count(engine, "SELECT count(*) FROM tasks WHERE name = 'SeedTask'") == seeded.recent_tasks
    assert count(engine, "SELECT count(*) FROM task_events e JOIN tasks t ON t.id = e.task_id"
                         " WHERE t.name = 'SeedTask'") == seeded.recent_tasks * seeded.events_per_task
    assert count(engine, "SELECT count(*) FROM task_events WHERE task_id NOT IN (SELECT id FROM tasks)") == 0
    assert count(engine, "SELECT count(*) FROM task_parameters WHERE task_id NOT IN (SELECT id FROM tasks)") == 0
    assert count(engine, "SELECT count(*) FROM crawl_runs WHERE crawl = 'seed'") == seeded.recent_runs
    assert count(engine, "SELECT count(*) FROM crawl_run_logs WHERE logger = 'seed'") == (
        seeded.recent_runs * seeded.lines_per_run)
    stats = json.loads(next((backups_dir(server) / "prune").iterdir()).read_text())
    assert stats["tasks"] == seeded.old_tasks and stats["runs"] == seeded.old_runs


def test_expired_sessions_are_cleared(tmp_path: Path) -> None:
    webmon = tmp_path / "webmon.db"
    engine = sa.create_engine(f"sqlite:///{webmon}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE django_session (session_key varchar(40) PRIMARY KEY,"
                             " session_data text NOT NULL, expire_date datetime NOT NULL)")
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
        conn.execute(sa.text("INSERT INTO django_session VALUES (:k, 'x', :d)"),
                     [{"k": f"old{i}", "d": str(now - dt.timedelta(days=1))} for i in range(3)]
                     + [{"k": "live", "d": str(now + dt.timedelta(days=1))}])
    server = make_luigid(tmp_path / "home")
    result = run_task(server, "PruneHistory", "--older-than-days", "30", DATABASE_URL=f"sqlite:///{webmon}")
    assert result.returncode == 0, result.stdout + result.stderr
    with engine.connect() as conn:
        assert [k for (k,) in conn.exec_driver_sql("SELECT session_key FROM django_session")] == ["live"]


def test_a_webmon_db_that_does_not_exist_yet_has_no_sessions_to_clear_and_is_not_created(tmp_path: Path) -> None:
    # A fresh checkout has no var/ until webmon first starts: the pruning must not fail there.
    webmon = tmp_path / "no-var-yet" / "webmon.db"
    server = make_luigid(tmp_path / "home")
    result = run_task(server, "PruneHistory", "--older-than-days", "30", DATABASE_URL=f"sqlite:///{webmon}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert not webmon.parent.exists()
