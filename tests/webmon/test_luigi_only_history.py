"""A history that stock Luigi wrote (no run tables of ours): every page works, no banner, /healthz 200."""

from __future__ import annotations

import pytest
from django.test import Client, override_settings
from webmon_support import LuigiHistory

PAGES = ["/", "/runs/", "/runs/?status=failed&q=x", "/crawl/?name=demo", "/families/", "/tasks/",
         "/tasks/?status=FAILED", "/tasks/?family=RunCrawl", "/tasks/1/"]


@pytest.fixture(autouse=True)
def luigid_down() -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_without_a_banner(client: Client, history_db: LuigiHistory, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="banner-history"' not in body
    assert "no such table" not in body


def test_the_pages_about_run_records_say_there_are_none_yet(client: Client, history_db: LuigiHistory) -> None:
    for path in ("/", "/runs/", "/crawl/?name=demo"):
        body = client.get(path).content.decode()
        assert "No run records yet: this history has no run tables of ours" in body, path


def test_the_overview_shows_luigis_newest_tasks_instead(client: Client, history_db: LuigiHistory) -> None:
    response = client.get("/")
    assert [t.name for t in response.context["luigi_tasks"]] == ["FetchPages", "RunCrawl"]
    assert [t.latest_event for t in response.context["luigi_tasks"]] == ["FAILED", "DONE"]
    assert 'id="overview-tasks-link"' in response.content.decode()


def test_the_families_page_lists_luigis_families(client: Client, history_db: LuigiHistory) -> None:
    response = client.get("/families/")
    lines = {line.family: line for line in response.context["families"]}
    assert sorted(lines) == ["FetchPages", "RunCrawl"]
    assert (lines["FetchPages"].luigi.tasks, lines["FetchPages"].luigi.newest_event) == (1, "FAILED")
    assert lines["FetchPages"].runs is None
    assert 'id="families-no-run-records"' in response.content.decode()


def test_healthz_is_200_when_luigis_tables_can_be_read(anonymous: Client, history_db: LuigiHistory) -> None:
    response = anonymous.get("/healthz")
    assert response.json()["checks"]["history_db"] == "ok"


def test_a_run_page_of_a_history_without_run_records_is_not_found(client: Client, history_db: LuigiHistory) -> None:
    page = client.get("/runs/1/")
    assert page.status_code == 404
    assert b"banner-history" not in page.content
    assert client.get("/runs/1/log.json?after=0").status_code == 404
    assert client.get("/runs/1/log.txt").status_code == 404
    assert client.get("/runs/1/log/1.txt").status_code == 404


def test_a_page_reads_the_missing_run_tables_once(client: Client, history_db: LuigiHistory, num_queries) -> None:
    with num_queries(default=3, history=2):
        # default: the session, the user, the schedules
        # history: 1. the crawl names (crawl_runs is missing: the page's other run reads are skipped),
        # 2. Luigi's newest tasks
        client.get("/")
    with num_queries(default=2, history=1):
        # history: 1. the crawl names, which find no crawl_runs
        client.get("/runs/")
