"""When the history DB cannot be read, every page still renders, with a banner: never a 500."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from django.test import Client, override_settings

PAGES = ["/", "/runs/", "/runs/?status=failed&q=x", "/runs/1/", "/crawl/?name=demo", "/families/"]
SENTENCE = "The task-history database cannot be read: "

HistoryAt = Callable[[str], AbstractContextManager[None]]


@pytest.fixture(autouse=True)
def luigid_down() -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield


@pytest.mark.parametrize("path", PAGES)
def test_a_missing_history_file_gives_a_banner_and_is_not_created(
    client: Client, history_at: HistoryAt, tmp_path: Path, path: str
) -> None:
    missing = tmp_path / "no-such" / "history.db"
    with history_at(str(missing)):
        response = client.get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="banner-history"' in body
    assert f"{SENTENCE}{missing} does not exist" in body
    assert not missing.exists()


@pytest.mark.parametrize("path", ["/", "/families/", "/tasks/"])
def test_a_history_db_without_luigis_tables_gives_a_banner_where_a_page_reads_them(
    client: Client, history_at: HistoryAt, tmp_path: Path, path: str
) -> None:
    import sqlite3

    empty = tmp_path / "history.db"
    sqlite3.connect(empty).close()
    with history_at(str(empty)):
        response = client.get(path)
    assert response.status_code == 200
    assert f"{SENTENCE}no such table: " in response.content.decode()


@pytest.mark.parametrize("path", ["/runs/", "/runs/?status=failed&q=x", "/crawl/?name=demo"])
def test_pages_about_run_records_say_there_are_none_when_their_tables_are_missing(
    client: Client, history_at: HistoryAt, tmp_path: Path, path: str
) -> None:
    import sqlite3

    empty = tmp_path / "history.db"
    sqlite3.connect(empty).close()
    with history_at(str(empty)):
        response = client.get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="banner-history"' not in body
    assert "No run records yet: this history has no run tables of ours" in body


@pytest.mark.parametrize("path", PAGES)
def test_a_file_that_is_not_a_database_gives_a_banner(
    client: Client, history_at: HistoryAt, tmp_path: Path, path: str
) -> None:
    garbage = tmp_path / "history.db"
    garbage.write_bytes(b"this is not sqlite" * 1000)
    with history_at(str(garbage)):
        response = client.get(path)
    assert response.status_code == 200
    assert f"{SENTENCE}file is not a database" in response.content.decode()


def test_the_banner_costs_no_query_after_the_first_failure(
    client: Client, history_at: HistoryAt, tmp_path: Path, num_queries
) -> None:
    import sqlite3

    empty = tmp_path / "history.db"
    sqlite3.connect(empty).close()
    with history_at(str(empty)), num_queries(default=2, history=1):
        # history: 1. Luigi's family names, which fail; the page's other reads are skipped
        client.get("/families/")


def test_the_log_endpoints_answer_503_with_the_reason(client: Client, history_at: HistoryAt, tmp_path: Path) -> None:
    with history_at(str(tmp_path / "missing.db")):
        as_json = client.get("/runs/1/log.json?after=0")
        download = client.get("/runs/1/log.txt")
        line = client.get("/runs/1/log/1.txt")
    assert as_json.status_code == 503 and as_json.json()["error"].startswith(SENTENCE)
    assert download.status_code == 503 and download.content.decode().startswith(SENTENCE)
    assert line.status_code == 503
