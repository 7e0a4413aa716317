"""manage.py prepare_history on a history a real Luigi writer left: run tables and indexes created once,
Luigi's rows kept, and webmon's pages work before and after, on SQLite, PostgreSQL and MariaDB."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from webmon_support import ROOT, Manage, record_luigi_history

from webmon.history.prepare import LUIGI_INDEXES

PAGES = """
import json
from django.core.management import call_command
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from django.contrib.auth.models import User

call_command("migrate", verbosity=0)
setup_test_environment()
client = Client()
client.force_login(User.objects.create_user("u", password="p-not-real-1"))
out = {}
with override_settings(LUIGID_URL="http://127.0.0.1:9"):
    for path in ["/", "/runs/", "/crawl/?name=demo", "/families/", "/tasks/", "/tasks/?status=FAILED",
                 "/tasks/?param=crawl&value=demo", "/tasks/1/"]:
        r = client.get(path)
        page = r.context["page"] if r.context and "page" in r.context else None
        out[path] = [r.status_code, b'id="banner-history"' in r.content, b"No run records yet" in r.content,
                     [t.name for t in page.tasks] if page is not None and hasattr(page, "tasks") else None]
    out["health"] = client.get("/healthz").json()["checks"]["history_db"]
print(json.dumps(out))
"""


def pages(manage: Manage, cfg: Path) -> dict:
    result = manage("shell", "-c", PAGES, env={"LUIGI_CONFIG_PATH": str(cfg)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def objects(url: str) -> tuple[set[str], set[str], int]:
    engine = sa.create_engine(url, future=True)
    try:
        inspector = sa.inspect(engine)
        tables = set(inspector.get_table_names())
        indexes = {ix["name"] for t in ("tasks", "task_events") for ix in inspector.get_indexes(t)}
        with engine.connect() as conn:
            tasks = conn.execute(sa.text("SELECT COUNT(*) FROM tasks")).scalar_one()
    finally:
        engine.dispose()
    return tables, indexes, tasks


def prepares_a_luigi_history(manage: Manage, tmp_path: Path, url: str) -> None:
    luigi = record_luigi_history(tmp_path, url)  # two tasks through luigi's DbTaskHistory; no table of ours
    tables, _, _ = objects(url)
    assert "crawl_runs" not in tables

    before = pages(manage, luigi.cfg)
    for path, (status, banner, *_rest) in ((p, v) for p, v in before.items() if p != "health"):
        assert (status, banner) == (200, False), path
    assert before["/runs/"][2] is True  # "No run records yet"
    assert before["/tasks/"][3] == ["FetchPages", "RunCrawl"]
    assert before["/tasks/?status=FAILED"][3] == ["FetchPages"]
    assert before["/tasks/?param=crawl&value=demo"][3] == ["RunCrawl"]
    assert before["health"] == "ok"

    first = manage("prepare_history", env={"LUIGI_CONFIG_PATH": str(luigi.cfg)})
    assert first.returncode == 0, first.stderr
    assert "created table crawl_runs" in first.stdout
    for index in LUIGI_INDEXES:
        assert f"created index {index.name}" in first.stdout
    tables, indexes, tasks = objects(url)
    assert {"crawl_runs", "crawl_run_logs", "tasks", "task_events", "task_parameters"} <= tables
    assert {ix.name for ix in LUIGI_INDEXES} <= indexes
    assert tasks == 2  # Luigi's rows are untouched

    again = manage("prepare_history", env={"LUIGI_CONFIG_PATH": str(luigi.cfg)})
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip() == "The history DB was ready: nothing to create."

    after = pages(manage, luigi.cfg)
    for path, (status, banner, *_rest) in ((p, v) for p, v in after.items() if p != "health"):
        assert (status, banner) == (200, False), path
    assert after["/runs/"][2] is False  # the run tables exist now: an empty list, not "no run records yet"
    assert after["/tasks/?status=FAILED"][3] == ["FetchPages"]


def test_it_prepares_a_sqlite_history_luigi_wrote(manage: Manage, tmp_path: Path) -> None:
    prepares_a_luigi_history(manage, tmp_path, f"sqlite:///{tmp_path / 'history.db'}")


@pytest.mark.postgres
def test_it_prepares_a_postgresql_history_luigi_wrote(manage: Manage, tmp_path: Path, postgres_url: str) -> None:
    prepares_a_luigi_history(manage, tmp_path, postgres_url)


@pytest.mark.mariadb
def test_it_prepares_a_mariadb_history_luigi_wrote(manage: Manage, tmp_path: Path, mariadb_url: str) -> None:
    prepares_a_luigi_history(manage, tmp_path, mariadb_url)


def run_twice_at_once(url: str) -> list[subprocess.CompletedProcess[str]]:
    command = [sys.executable, str(ROOT / "manage.py"), "prepare_history", "--url", url]
    env = {"DATABASE_URL": "sqlite://", "SECRET_KEY": "tests-only-not-a-secret", "PATH": "/usr/bin:/bin"}
    procs = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    done = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(command, proc.returncode, out, err))
    return done


def test_two_at_once_on_sqlite_both_succeed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'history.db'}"
    for result in run_twice_at_once(url):
        assert result.returncode == 0, result.stderr
    tables, indexes, _ = objects(url)
    assert "crawl_runs" in tables and {ix.name for ix in LUIGI_INDEXES} <= indexes


@pytest.mark.postgres
def test_two_at_once_on_postgresql_both_succeed(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url, future=True)
    with engine.begin() as conn:  # a fresh start: the module's database is shared
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    for result in run_twice_at_once(postgres_url):
        assert result.returncode == 0, result.stderr
    tables, indexes, _ = objects(postgres_url)
    assert "crawl_runs" in tables and {ix.name for ix in LUIGI_INDEXES} <= indexes


def test_an_unreachable_history_db_gets_one_sentence(manage: Manage) -> None:
    result = manage("prepare_history", "--url", "postgresql+psycopg2://nobody:s3cret@127.0.0.1:9/history")
    assert result.returncode == 1
    error = result.stderr.strip()
    assert error.startswith("CommandError: The history DB postgresql+psycopg2://nobody:***@127.0.0.1:9/history"
                            " cannot be reached: ")
    assert "s3cret" not in error and "Traceback" not in error and len(error.splitlines()) == 1
