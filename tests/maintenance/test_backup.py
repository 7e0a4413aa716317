"""BackupDatabase and restoredb on real SQLite, PostgreSQL and MariaDB databases.

Every backup runs through the luigi CLI (with the run-record context of the
test luigi.cfg), every restore through `manage.py restoredb`.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import Luigid, make_luigid
from tests.maintenance.support import backup, backups_dir, restoredb

DAY = dt.date(2026, 11, 22)  # a Sunday: weekday 0
ROWS = [(i, f"item {i}", f"price {i * 3}") for i in range(1, 201)] + [(999, "ünïcode ✓ 'quoted'", None)]


def seed(url: str) -> sa.engine.Engine:
    engine = sa.create_engine(url, future=True)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE IF EXISTS things")
        conn.exec_driver_sql("CREATE TABLE things (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, price TEXT)")
        conn.execute(sa.text("INSERT INTO things VALUES (:id, :name, :price)"),
                     [{"id": i, "name": n, "price": p} for i, n, p in ROWS])
    return engine


def change(engine: sa.engine.Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DELETE FROM things WHERE id <= 50")
        conn.exec_driver_sql("UPDATE things SET name = 'changed' WHERE id > 150")
        conn.exec_driver_sql("INSERT INTO things VALUES (5000, 'new', NULL)")


def rows(engine: sa.engine.Engine) -> list[tuple]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.exec_driver_sql("SELECT id, name, price FROM things ORDER BY id")]


def round_trip(server: Luigid, engine: sa.engine.Engine, suffix: str) -> None:
    assert rows(engine) == ROWS
    result = backup(server, "items", DAY)
    assert result.returncode == 0, result.stdout + result.stderr
    folder = backups_dir(server) / "items"
    good = folder / f"items-0{suffix}"
    assert good.is_file()
    assert os.readlink(folder / f"items-latest{suffix}") == good.name

    change(engine)
    assert rows(engine) != ROWS
    engine.dispose()
    restored = restoredb(server, "items", str(folder / f"items-latest{suffix}"), "--yes", "--force")
    assert restored.returncode == 0, restored.stdout + restored.stderr
    assert rows(engine) == ROWS


def test_a_sqlite_database_comes_back_as_it_was_backed_up(tmp_path: Path) -> None:
    server = make_luigid(tmp_path)
    round_trip(server, seed(server.items_url), ".sqlite.gz")


@pytest.mark.postgres
def test_a_postgresql_database_comes_back_as_it_was_backed_up(tmp_path: Path, postgres_url: str) -> None:
    server = make_luigid(tmp_path, items_url=postgres_url)
    round_trip(server, seed(postgres_url), ".sql.gz")


@pytest.mark.mariadb
def test_a_mariadb_database_comes_back_as_it_was_backed_up(tmp_path: Path, mariadb_url: str) -> None:
    server = make_luigid(tmp_path, items_url=mariadb_url)
    round_trip(server, seed(mariadb_url), ".sql.gz")


def failed_backup_keeps_the_good_one(tmp_path: Path, good_url: str, bad_url: str, secret: str) -> None:
    seed(good_url).dispose()
    server = make_luigid(tmp_path, items_url=good_url)
    assert backup(server, "items", DAY).returncode == 0
    folder = backups_dir(server) / "items"
    good, latest = folder / "items-0.sql.gz", folder / "items-latest.sql.gz"
    before = good.read_bytes()

    server = make_luigid(tmp_path, items_url=bad_url)  # same home: rewrites its luigi.cfg
    failed = backup(server, "items", DAY + dt.timedelta(days=7))  # the same weekday file
    assert failed.returncode != 0, failed.stdout + failed.stderr
    assert good.read_bytes() == before
    assert os.readlink(latest) == good.name
    assert [p.name for p in folder.iterdir() if p.name.startswith(".items")] == []  # no temporary left
    assert not (folder / f".done-{(DAY + dt.timedelta(days=7)).isoformat()}.json").exists()
    log = (backups_dir(server) / "backup.log").read_text()
    assert "error dump:" in log.splitlines()[-1]
    assert secret not in log
    # The run record holds the reason.
    history = sa.create_engine(server.history_url)
    with history.connect() as conn:
        status, message = conn.exec_driver_sql(
            "SELECT status, error_message FROM crawl_runs WHERE family = 'BackupDatabase' ORDER BY id DESC").first()
    assert status == "failed"
    assert message.startswith("dump: ") and "exited with" in message
    assert secret not in message


@pytest.mark.mariadb
def test_a_mariadb_dump_with_a_wrong_password_fails_and_keeps_the_previous_backup(
        tmp_path: Path, mariadb_url: str) -> None:
    bad = mariadb_url.replace("root@", "root:Wr0ng-S3cret@")
    failed_backup_keeps_the_good_one(tmp_path, mariadb_url, bad, "Wr0ng-S3cret")


@pytest.mark.postgres
def test_a_postgresql_dump_that_cannot_log_in_fails_and_keeps_the_previous_backup(
        tmp_path: Path, postgres_url: str) -> None:
    # The test server trusts local connections (any password works), so the login fails on the role.
    bad = postgres_url.replace("postgres@", "nobody_here:Wr0ng-S3cret@")
    failed_backup_keeps_the_good_one(tmp_path, postgres_url, bad, "Wr0ng-S3cret")


def test_eight_daily_runs_leave_seven_weekday_files_and_latest(tmp_path: Path) -> None:
    server = make_luigid(tmp_path)
    seed(server.items_url).dispose()
    for n in range(8):
        result = backup(server, "items", DAY + dt.timedelta(days=n))
        assert result.returncode == 0, result.stdout + result.stderr
    folder = backups_dir(server) / "items"
    files = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))
    assert files == [f"items-{d}.sqlite.gz" for d in range(7)] + ["items-latest.sqlite.gz"]
    assert os.readlink(folder / "items-latest.sqlite.gz") == "items-0.sqlite.gz"  # day 8 is a Sunday again
    log = (backups_dir(server) / "backup.log").read_text().splitlines()
    assert len(log) == 8 and all(line.endswith(" ok") for line in log)
    # A backup is a whole SQLite database.
    copy = tmp_path / "copy.db"
    copy.write_bytes(gzip.decompress((folder / "items-latest.sqlite.gz").read_bytes()))
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT count(*) FROM things").fetchone()[0] == len(ROWS)


def test_the_same_day_twice_is_a_no_op(tmp_path: Path) -> None:
    server = make_luigid(tmp_path)
    seed(server.items_url).dispose()
    assert backup(server, "items", DAY).returncode == 0
    assert backup(server, "items", DAY).returncode == 0
    assert len((backups_dir(server) / "backup.log").read_text().splitlines()) == 1


def test_the_history_and_webmon_databases_are_backed_up_too(tmp_path: Path) -> None:
    server = make_luigid(tmp_path)
    webmon = tmp_path / "webmon.db"
    seed(f"sqlite:///{webmon}").dispose()
    seed(server.history_url).dispose()
    env = {"DATABASE_URL": f"sqlite:///{webmon}"}
    for db in ("history", "webmon"):
        result = backup(server, db, DAY, **env)
        assert result.returncode == 0, result.stdout + result.stderr
        assert (backups_dir(server) / db / f"{db}-0.sqlite.gz").is_file()


def test_restoredb_refuses_while_a_service_runs(tmp_path: Path) -> None:
    server = make_luigid(tmp_path)
    engine = seed(server.items_url)
    assert backup(server, "items", DAY).returncode == 0
    change(engine)
    (server.home / "run").mkdir()
    (server.home / "run" / "trigger.pid").write_text(str(os.getpid()))  # this test process is alive
    refused = restoredb(server, "items", str(backups_dir(server) / "items" / "items-0.sqlite.gz"), "--yes")
    assert refused.returncode != 0
    assert "refusing to restore the items DB while services run: trigger (pid" in refused.stderr
    assert rows(engine) != ROWS


def test_restoredb_asks_for_the_database_name(tmp_path: Path) -> None:
    server = make_luigid(tmp_path)
    engine = seed(server.items_url)
    assert backup(server, "items", DAY).returncode == 0
    change(engine)
    path = str(backups_dir(server) / "items" / "items-0.sqlite.gz")
    declined = restoredb(server, "items", path, input="no\n")
    assert declined.returncode != 0 and "Not confirmed" in declined.stderr
    assert rows(engine) != ROWS
    confirmed = restoredb(server, "items", path, input="items\n")
    assert confirmed.returncode == 0, confirmed.stderr
    assert rows(engine) == ROWS
