"""Hostile data renders safely: HTML and script escaped, huge values cut, invalid UTF-8 replaced,
unknown families and odd values shown, never a 500."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, override_settings
from django.utils import timezone
from history_seed import HistorySeed

SCRIPT = "<script>alert('x')</script>"
ESCAPED = "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;"
NOW = timezone.now()


@pytest.fixture(autouse=True)
def luigid_down() -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield


@pytest.fixture
def hostile_run(history: HistorySeed) -> int:
    run_id = history.run(
        family=f"Evil{SCRIPT}",
        crawl=f"crawl{SCRIPT}",
        task_id=f"Evil_{SCRIPT}_1",
        host=f"host{SCRIPT}",
        params=json.dumps({"url": SCRIPT, f"key{SCRIPT}": {"nested": SCRIPT}}),
        status="failed",
        started_at=NOW - timedelta(hours=1),
        error_type=f"Error{SCRIPT}",
        error_message=f"boom {SCRIPT}",
        traceback=f"Traceback {SCRIPT}",
        stats=json.dumps({"n": SCRIPT}),
        worker=SCRIPT,
    )
    history.logs(run_id, [("INFO", f"fetched {SCRIPT}", f"logger{SCRIPT}"), (f"LVL{SCRIPT}"[:10], "odd level")])
    return run_id


def pages(run_id: int) -> list[str]:
    return ["/", "/runs/", f"/runs/?q={SCRIPT}", f"/runs/{run_id}/", f"/crawl/?name=crawl{SCRIPT}", "/families/"]


def test_html_and_script_in_every_field_are_escaped_on_every_page(client: Client, hostile_run: int) -> None:
    for path in pages(hostile_run):
        response = client.get(path)
        assert response.status_code == 200, path
        body = response.content.decode()
        assert SCRIPT not in body, path
        assert "<script>" not in body, path
    detail = client.get(f"/runs/{hostile_run}/").content.decode()
    assert f"fetched {ESCAPED}" in detail
    assert f"Traceback {ESCAPED}" in detail
    assert f"<th>key{ESCAPED}</th>" in detail


def test_the_json_log_returns_text_for_the_page_to_insert_as_text(client: Client, hostile_run: int) -> None:
    data = client.get(f"/runs/{hostile_run}/log.json?after=0").json()
    assert data["lines"][0]["message"] == f"fetched {SCRIPT}"
    js = open("webmon/monitor/static/monitor/monitor.js").read()
    assert "innerHTML" not in js and "textContent" in js


def test_invalid_utf8_is_replaced_not_an_error(client: Client, history: HistorySeed) -> None:
    run_id = history.run(crawl="demo", started_at=NOW - timedelta(minutes=5), status="failed")
    history.logs(run_id, [("INFO", "placeholder")])
    bad = "CAST(X'6f6b20fffe20c328' AS TEXT)"  # "ok " then bytes that are not UTF-8
    history.execute(f"UPDATE crawl_run_logs SET message = {bad}")
    history.execute(f"UPDATE crawl_runs SET error_message = {bad}, params = {bad}, host = {bad}")
    history.run(crawl=None, family="X", started_at=NOW, task_id="X_1")
    history.execute(f"UPDATE crawl_runs SET crawl = {bad}, family = {bad} WHERE task_id = 'X_1'")
    for path in ["/", "/runs/", f"/runs/{run_id}/", f"/runs/{run_id}/log/1.txt"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert "ok \ufffd" in response.content.decode(), path
    assert client.get("/families/").status_code == 200
    assert client.get(f"/runs/{run_id}/log.json?after=0").json()["lines"][0]["message"].startswith("ok \ufffd")
    text = b"".join(client.get(f"/runs/{run_id}/log.txt").streaming_content).decode()
    assert "ok \ufffd\ufffd" in text


def test_unknown_families_and_non_json_values_render(client: Client, history: HistorySeed) -> None:
    run_id = history.run(
        family="SomethingElse",
        crawl=None,
        task_id="SomethingElse__abc",
        params="not json",
        stats="[1, 2]",
        started_at=NOW,
    )
    body = client.get(f"/runs/{run_id}/").content.decode()
    assert '<pre id="run-params" class="raw wrap">not json</pre>' in body
    assert '<pre id="run-stats" class="raw wrap">[1, 2]</pre>' in body
    assert 'id="dag-alone"' in body  # no recorded requirements, not a crawl tick: the task alone
    assert client.get("/").status_code == 200


def test_huge_values_are_cut_on_list_pages(client: Client, history: HistorySeed) -> None:
    huge = "y" * (1024 * 1024)
    history.run(
        crawl="demo",
        started_at=NOW,
        status="failed",
        params=json.dumps({"blob": huge}),
        error_message=huge,
        traceback=huge,
    )
    for path in ["/", "/runs/"]:
        body = client.get(path).content.decode()
        assert len(body) < 60_000, path


def test_a_timestamp_that_is_not_one_gives_a_banner_not_a_500(client: Client, history: HistorySeed) -> None:
    # A tick's last stage, so that every page below reads it (the crawl page reads the runs that end ticks).
    run_id = history.run(crawl="demo", family="StoreItems", started_at=NOW)
    history.execute("UPDATE crawl_runs SET started_at = 'yesterday-ish'")
    for path in ["/", "/runs/", f"/runs/{run_id}/", "/crawl/?name=demo"]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert 'id="banner-history"' in response.content.decode(), path
    assert client.get("/families/").status_code == 200  # it shows no time of single runs


def test_a_crawl_name_with_odd_characters_links_to_its_page(client: Client, history: HistorySeed) -> None:
    name = "a/../b?c#d&e=f\nnew line"
    history.tick(name, (NOW - timedelta(hours=1)).replace(second=0, microsecond=0))
    overview = client.get("/").content.decode()
    assert 'href="/crawl/?name=a/../b%3Fc%23d%26e%3Df%0Anew%20line"' in overview
    response = client.get("/crawl/", {"name": name})
    assert response.status_code == 200 and response.context["has_runs"]


def test_an_empty_crawl_name_does_not_break_the_overview(client: Client, history: HistorySeed) -> None:
    history.run(crawl="", started_at=NOW)
    assert client.get("/").status_code == 200
    assert client.get("/runs/").status_code == 200


def test_luigid_answering_nonsense_gives_a_banner(client: Client, history: HistorySeed) -> None:
    import http.server
    import threading

    class Nonsense(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"<html>not json</html>")

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Nonsense)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with override_settings(LUIGID_URL=f"http://127.0.0.1:{server.server_port}"):
            response = client.get("/")
    finally:
        server.shutdown()
    assert response.status_code == 200
    assert 'id="banner-luigid"' in response.content.decode()


def test_old_times_far_in_the_past_render(client: Client, history: HistorySeed) -> None:
    history.run(crawl="old", started_at=datetime(1999, 1, 1, tzinfo=UTC))
    assert client.get("/crawl/?name=old").status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "/runs/99999999999999999999/",
        "/runs/99999999999999999999/log.json",
        "/runs/99999999999999999999/log.txt",
        "/runs/1/log/99999999999999999999.txt",
        "/runs/1/?after=99999999999999999999",
        "/runs/1/log.json?after=99999999999999999999",
    ],
)
def test_numbers_too_large_for_the_database_are_not_found_or_ignored(
    client: Client, history: HistorySeed, path: str
) -> None:
    history.run(started_at=NOW)
    assert client.get(path).status_code in (200, 404)
