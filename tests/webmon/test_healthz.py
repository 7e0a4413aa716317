"""/healthz: 200 when the databases and luigid answer, 503 naming what failed; public, no secrets."""

from __future__ import annotations

from pathlib import Path

from django.test import Client, override_settings
from history_seed import HistorySeed
from webmon_support import LuigiHistory

from tests.conftest import Luigid


def test_all_parts_answering_is_200(anonymous: Client, history: HistorySeed, luigid: Luigid) -> None:
    with override_settings(LUIGID_URL=luigid.url):
        response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "failed": [],
        "checks": {"webmon_db": "ok", "history_db": "ok", "luigid": "ok"},
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_luigid_down_is_503_naming_luigid(anonymous: Client, history: HistorySeed) -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        response = anonymous.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {
        "status": "fail",
        "failed": ["luigid"],
        "checks": {"webmon_db": "ok", "history_db": "ok", "luigid": "fail"},
    }


def test_an_unreadable_history_db_is_503_naming_it_without_saying_where(
    anonymous: Client, history_at, tmp_path: Path, luigid: Luigid
) -> None:
    missing = tmp_path / "secret-place" / "history.db"
    with history_at(str(missing)), override_settings(LUIGID_URL=f"http://user:hunter2@127.0.0.1:{luigid.port}"):
        response = anonymous.get("/healthz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["history_db"]
    assert b"secret-place" not in response.content and b"hunter2" not in response.content
    assert not missing.exists()


def test_a_history_stock_luigi_wrote_is_healthy(anonymous: Client, history_db: LuigiHistory, luigid: Luigid) -> None:
    # Luigi's tables only (written by its DbTaskHistory): our run tables missing is no failure.
    with override_settings(LUIGID_URL=luigid.url):
        response = anonymous.get("/healthz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"webmon_db": "ok", "history_db": "ok", "luigid": "ok"}


def test_a_history_db_without_luigis_tables_is_not_healthy(anonymous: Client, history_at, tmp_path: Path) -> None:
    import sqlite3

    db = tmp_path / "history.db"
    sqlite3.connect(db).close()
    with history_at(str(db)), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        response = anonymous.get("/healthz")
    assert response.json()["failed"] == ["history_db", "luigid"]
