"""The run detail page: summary, parameters, the tick's chain, luigid events, stats, error."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client, override_settings
from history_seed import HistorySeed, at_param, tick_task_id

AT = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def luigid_down() -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield


def test_it_requires_login(anonymous: Client, history: HistorySeed) -> None:
    run_id = history.run(started_at=AT)
    response = anonymous.get(f"/runs/{run_id}/")
    assert response.status_code == 302
    assert response["Location"] == f"/login/?next=/runs/{run_id}/"


def test_an_unknown_run_is_not_found(client: Client, history: HistorySeed) -> None:
    assert client.get("/runs/999/").status_code == 404


def test_it_shows_the_summary_parameters_and_links(client: Client, history: HistorySeed) -> None:
    ids = history.tick("demo", AT, host="worker-7")
    response = client.get(f"/runs/{ids['ParsePages']}/")
    assert response.status_code == 200
    body = response.content.decode()
    task_id = tick_task_id("ParsePages", "demo", AT)
    assert f"<code>{task_id}</code>" in body
    assert 'id="run-host">worker-7' in body
    assert '<tr><th>crawl</th><td><code class="wrap">demo</code></td></tr>' in body
    assert f'href="http://127.0.0.1:9/static/visualiser/index.html#tab=graph&amp;taskId={task_id}"' in body
    assert f'id="task-runs-link" href="/runs/?task={task_id}"' in body


def test_the_chain_shows_the_latest_attempt_of_each_stage(client: Client, history: HistorySeed) -> None:
    first = history.tick("demo", AT, statuses={"ParsePages": "failed"})
    retry = history.tick("demo", AT, statuses={"FetchPages": "done"}, attempt=2)  # the tick run again
    response = client.get(f"/runs/{first['ParsePages']}/")
    stages = {node.family: (node.status, node.run_id) for node in response.context["chain"].nodes}
    assert stages == {
        "FetchPages": ("done", retry["FetchPages"]),
        "ParsePages": ("done", retry["ParsePages"]),
        "StoreItems": ("done", retry["StoreItems"]),
    }
    body = response.content.decode()
    assert 'class="stage stage-done" data-family="StoreItems" data-status="done"' in body
    assert 'id="chain-gantt"' in body
    # Both attempts of this task are listed, newest first.
    assert [a.id for a in response.context["attempts"]] == [retry["ParsePages"], first["ParsePages"]]


def test_a_stage_that_never_ran_is_drawn_as_not_run(client: Client, history: HistorySeed) -> None:
    ids = history.tick("demo", AT, statuses={"FetchPages": "failed"})
    body = client.get(f"/runs/{ids['FetchPages']}/").content.decode()
    assert 'class="stage stage-not-run" data-family="StoreItems" data-status="not-run"' in body
    assert '<strong id="run-error-type">RuntimeError</strong>' in body


def test_luigid_events_of_this_attempt_only_make_the_timeline(client: Client, history: HistorySeed) -> None:
    first = history.tick("demo", AT, statuses={"FetchPages": "failed"}, wrapper=False)
    again = AT + timedelta(hours=1)
    retry = history.run(family="FetchPages", crawl="demo", at=AT, started_at=again, attempt=2)
    task_id = tick_task_id("FetchPages", "demo", AT)
    # One `tasks` row for both attempts (one luigid lifetime), as luigid writes it.
    history.luigi_task(
        task_id,
        "FetchPages",
        {"crawl": "demo", "at": at_param(AT)},
        [
            ("PENDING", AT - timedelta(seconds=3)),
            ("RUNNING", AT),
            ("FAILED", AT + timedelta(seconds=20)),
            ("PENDING", again - timedelta(seconds=2)),
            ("RUNNING", again),
            ("DONE", again + timedelta(seconds=10)),
        ],
    )
    events = client.get(f"/runs/{retry}/").context["events"]
    assert [e.event_name for e in events] == ["PENDING", "RUNNING", "DONE"]
    assert all(e.ts.tzinfo is UTC for e in events)
    first_events = client.get(f"/runs/{first['FetchPages']}/").context["events"]
    assert [e.event_name for e in first_events] == ["PENDING", "RUNNING", "FAILED"]


def test_a_run_with_no_luigid_events_still_renders(client: Client, history: HistorySeed) -> None:
    run_id = history.run(started_at=AT)
    body = client.get(f"/runs/{run_id}/").content.decode()
    assert 'id="no-events"' in body


def test_stats_error_and_traceback_are_shown(client: Client, history: HistorySeed) -> None:
    run_id = history.run(
        started_at=AT,
        status="failed",
        stats={"fetched": 120, "failed_by_reason": {"timeout": 3}},
        error_type="ParseRatioExceeded",
        error_message="3 of 10 item pages failed",
        traceback='Traceback (most recent call last):\n  File "x.py", line 1\nParseRatioExceeded',
    )
    body = client.get(f"/runs/{run_id}/").content.decode()
    assert 'data-key="fetched"><th>Pages fetched</th><td><span class="stat-value">120</span>' in body
    assert '<tr class="hbar hbar-reason"><th>timeout</th>' in body  # a failed run's counters are shown
    assert 'id="run-error-message" class="wrap">3 of 10 item pages failed</pre>' in body
    assert "File &quot;x.py&quot;, line 1" in body


def test_a_task_outside_the_crawl_chain_without_recorded_requirements_is_drawn_alone(
    client: Client, history: HistorySeed
) -> None:
    run_id = history.run(
        family="Touch", crawl=None, task_id="Touch__tmp_x_123", params='{"path": "/tmp/x"}', started_at=AT
    )
    response = client.get(f"/runs/{run_id}/")
    assert response.context["chain"] is None
    body = response.content.decode()
    assert 'id="dag-alone"' in body and 'id="chain-graph"' not in body
    [node] = response.context["dag"].nodes
    assert (node.task_id, node.status, node.run_id, node.current) == ("Touch__tmp_x_123", "done", run_id, True)


@pytest.mark.parametrize("lines", [3, 300])
def test_its_queries_do_not_grow_with_lines_attempts_or_events(
    client: Client, history: HistorySeed, num_queries, lines: int
) -> None:
    for attempt in range(1, 1 + lines // 100 + 1):
        ids = history.tick("demo", AT + timedelta(minutes=attempt), attempt=attempt)
    history.logs(ids["ParsePages"], [("INFO", f"line {i}") for i in range(lines)])
    history.luigi_task(
        tick_task_id("ParsePages", "demo", AT),
        "ParsePages",
        {},
        [("RUNNING", AT + timedelta(minutes=1))] * (lines // 10),
    )
    with num_queries(default=2, history=5):
        # default: 1. the session, 2. the user
        # history: 1. the run, 2. every attempt of every task of its tick (task_id index),
        # 3. one page of log lines, 4. the run's crawl_run_deps row (none: the chain is drawn),
        # 5. luigid events in the attempt's window
        response = client.get(f"/runs/{ids['ParsePages']}/")
    assert response.status_code == 200


def test_a_running_run_asks_luigid_for_progress_and_says_when_it_cannot(client: Client, history: HistorySeed) -> None:
    ids = history.tick("demo", AT, statuses={"FetchPages": "running"})
    body = client.get(f"/runs/{ids['FetchPages']}/").content.decode()
    assert 'id="banner-luigid"' in body
    assert f'data-follow-url="/runs/{ids["FetchPages"]}/log.json?after=0"' in body
    assert 'id="log-follow"' in body


def test_a_finished_run_is_not_followed_and_does_not_ask_luigid(client: Client, history: HistorySeed) -> None:
    run_id = history.run(started_at=AT)
    body = client.get(f"/runs/{run_id}/").content.decode()
    assert "data-follow-url" not in body
    assert 'id="banner-luigid"' not in body


def test_drawing_the_graph_leaves_garbage_collection_as_it_found_it(client: Client, history: HistorySeed) -> None:
    import gc

    run = history.run(family="FetchPages", started_at=datetime.now(UTC))
    assert gc.isenabled()
    assert client.get(f"/runs/{run}/").status_code == 200
    assert gc.isenabled()  # paused only while the graph is built
