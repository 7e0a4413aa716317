"""The log viewer: a page of lines, level filter, search, live tail as JSON, a full line, download."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from django.test import Client, override_settings
from history_seed import HistorySeed

AT = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "STDOUT", "STDERR", "CRITICAL"]


@pytest.fixture(autouse=True)
def luigid_down() -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield


@pytest.fixture
def run_with_lines(history: HistorySeed) -> int:
    run_id = history.run(started_at=AT)
    history.logs(run_id, [(LEVELS[i % len(LEVELS)], f"line {i + 1}") for i in range(2500)], start=AT)
    return run_id


def seqs(response) -> list[int]:
    return [line.seq for line in response.context["lines"]]


def test_the_page_shows_the_first_thousand_lines_and_links_to_the_next(client: Client, run_with_lines: int) -> None:
    response = client.get(f"/runs/{run_with_lines}/")
    assert seqs(response) == list(range(1, 1001))
    body = response.content.decode()
    assert 'class="log-line level-debug" data-seq="1"' in body
    assert 'id="log-next" href="?after=1000"' in body
    second = client.get(f"/runs/{run_with_lines}/?after=1000")
    assert seqs(second)[0] == 1001
    last = client.get(f"/runs/{run_with_lines}/?after=2000")
    assert seqs(last) == list(range(2001, 2501))
    assert 'id="log-next"' not in last.content.decode()


def test_the_level_filter_shows_that_level_and_above(client: Client, run_with_lines: int) -> None:
    response = client.get(f"/runs/{run_with_lines}/?level=WARNING")
    assert {line.level for line in response.context["lines"]} == {"WARNING", "ERROR", "STDERR", "CRITICAL"}
    assert '<option value="WARNING" selected>' in response.content.decode()


def test_search_finds_lines_containing_the_text_in_any_case(client: Client, history: HistorySeed) -> None:
    run_id = history.run(started_at=AT)
    history.logs(
        run_id, [("INFO", "fetching https://shop.example/a"), ("INFO", "parsed"), ("ERROR", "Shop.Example down")]
    )
    response = client.get(f"/runs/{run_id}/?q=shop.example")
    assert seqs(response) == [1, 3]


def test_the_json_endpoint_gives_the_lines_after_n(client: Client, history: HistorySeed, num_queries) -> None:
    run_id = history.run(started_at=AT, status="running")
    history.logs(run_id, [("INFO", f"line {i}") for i in range(1, 6)])
    with num_queries(default=2, history=2):
        # history: 1. the run's status, 2. the lines after N
        response = client.get(f"/runs/{run_id}/log.json?after=3")
    data = response.json()
    assert [line["seq"] for line in data["lines"]] == [4, 5]
    assert (data["running"], data["status"], data["after"], data["more"]) == (True, "stale", 5, False)
    assert data["lines"][0]["message"] == "line 4"
    empty = client.get(f"/runs/{run_id}/log.json?after=5").json()
    assert (empty["lines"], empty["after"]) == ([], 5)


def test_the_json_endpoint_applies_level_and_search_too(client: Client, run_with_lines: int) -> None:
    data = client.get(f"/runs/{run_with_lines}/log.json?after=0&level=ERROR&q=line 1").json()
    assert {line["level"] for line in data["lines"]} <= {"ERROR", "CRITICAL"}
    assert all("line 1" in line["message"] for line in data["lines"])
    assert data["more"] is False


def test_a_running_run_opens_on_its_newest_lines(client: Client, history: HistorySeed) -> None:
    run_id = history.run(started_at=AT, status="running")
    history.logs(run_id, [("INFO", f"line {i}") for i in range(1, 1201)])
    response = client.get(f"/runs/{run_id}/")
    assert seqs(response)[0] == 201 and seqs(response)[-1] == 1200
    body = response.content.decode()
    assert f'data-follow-url="/runs/{run_id}/log.json?after=1200"' in body
    # The worker stores the count only at the end: the heading counts the lines there are.
    assert '<span id="log-count" data-count="1200"' in body and ">1200 lines</span>" in body
    assert client.get(f"/runs/{run_id}/log.json?after=1200").json()["log_lines"] == 1200


def test_download_streams_every_line_as_a_text_file(client: Client, run_with_lines: int, num_queries) -> None:
    with num_queries(default=2, history=1):
        response = client.get(f"/runs/{run_with_lines}/log.txt")
        assert response.streaming
        # history: 1. the run exists; the lines are read while streaming
    assert response["Content-Disposition"] == f'attachment; filename="run-{run_with_lines}.log"'
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    text = b"".join(response.streaming_content).decode()
    lines = text.splitlines()
    assert len(lines) == 2500
    assert lines[0] == "2026-03-01 07:30:00.000000Z 1 DEBUG pipelines.tasks: line 1"
    assert lines[-1].endswith("pipelines.tasks: line 2500")


def test_download_of_an_unknown_run_is_not_found(client: Client, history: HistorySeed) -> None:
    assert client.get("/runs/5/log.txt").status_code == 404
    assert client.get("/runs/5/log.json").status_code == 404
    assert client.get("/runs/5/log/1.txt").status_code == 404


def test_a_huge_line_is_cut_on_the_page_with_a_link_to_the_whole_line(client: Client, history: HistorySeed) -> None:
    run_id = history.run(started_at=AT)
    huge = "<b>" + "x" * (1024 * 1024) + "</b>"
    history.logs(run_id, [("INFO", "small"), ("ERROR", huge)])
    response = client.get(f"/runs/{run_id}/")
    body = response.content.decode()
    assert len(body) < 100_000
    assert f'<a class="show-full" href="/runs/{run_id}/log/2.txt">show full line ({len(huge)} characters)</a>' in body
    assert "&lt;b&gt;xxx" in body and "<b>xxx" not in body
    full = client.get(f"/runs/{run_id}/log/2.txt")
    assert full["Content-Type"] == "text/plain; charset=utf-8"
    assert full["X-Content-Type-Options"] == "nosniff"
    assert full.content.decode() == huge
    data = client.get(f"/runs/{run_id}/log.json?after=1").json()
    assert data["lines"][0]["cut"] is True
    assert data["lines"][0]["full_url"] == f"/runs/{run_id}/log/2.txt"
    assert len(data["lines"][0]["message"]) == 2000


def test_bad_viewer_parameters_show_lines_rather_than_an_error(client: Client, run_with_lines: int) -> None:
    response = client.get(f"/runs/{run_with_lines}/?after=-5&level=LOUD")
    assert response.status_code == 200
    assert seqs(response)[0] == 1
    assert json.loads(client.get(f"/runs/{run_with_lines}/log.json?after=x").content)["lines"][0]["seq"] == 1
