"""Luigi's tasks list and task page, on a history Luigi's own DbTaskHistory wrote (no run tables of ours)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.db import connections
from django.test import Client, override_settings
from webmon_support import LuigiHistory, record_luigi_tasks

HOSTILE = '<script>alert("x")</script>'

# Written in this order: tasks.id 1..8.
TASKS = [
    {"id": "FetchPages_shop_1", "family": "FetchPages", "params": {"crawl": "shop", "at": "1"}, "host": "w1",
     "runs": [True]},
    {"id": "FetchPages_shop_2", "family": "FetchPages", "params": {"crawl": "shop", "at": "2"}, "host": "w2",
     "runs": [False]},
    {"id": "ParsePages_shop_2", "family": "ParsePages", "params": {"crawl": "shop", "at": "2"}, "host": "w1",
     "runs": [True]},
    {"id": "FetchPages_news_3", "family": "FetchPages", "params": {"crawl": "news", "at": "3"}, "host": "w1",
     "runs": [False, False, True]},  # failed twice, then done: 9 events
    {"id": f"Evil_{HOSTILE}", "family": f"Evil{HOSTILE}", "params": {"crawl": HOSTILE, "note": "a" * 3000},
     "host": HOSTILE, "runs": [False]},
    {"id": "ParsePages_news_3", "family": "ParsePages", "params": {"crawl": "news", "at": "3"}, "host": "w2",
     "runs": [True]},
    {"id": "FetchPages_shop_4", "family": "FetchPages", "params": {"crawl": "shop", "at": "4"}, "host": "w2",
     "runs": [True]},
    {"id": "StoreItems_shop_4", "family": "StoreItems", "params": {"crawl": "shop", "at": "4"}, "host": "w1",
     "runs": [False]},
]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> LuigiHistory:
    folder = tmp_path_factory.mktemp("luigi-tasks")
    return record_luigi_tasks(folder, f"sqlite:///{folder / 'history.db'}", TASKS)


@pytest.fixture(autouse=True)
def alias_at_written(written: LuigiHistory) -> Iterator[None]:
    conn = connections["history"]
    conn.close()
    original = conn.settings_dict["NAME"]
    conn.settings_dict["NAME"] = str(written.db)
    try:
        with override_settings(LUIGID_URL="http://127.0.0.1:9", WEBMON_PAGE_SIZE=3):
            yield
    finally:
        conn.close()
        conn.settings_dict["NAME"] = original


def pks(response) -> list[int]:
    return [t.id for t in response.context["page"].tasks]


def test_the_tasks_list_needs_a_login(anonymous: Client) -> None:
    assert anonymous.get("/tasks/").status_code == 302


def test_it_lists_every_task_newest_first_with_its_latest_event(client: Client) -> None:
    response = client.get("/tasks/")
    assert pks(response) == [8, 7, 6]
    assert [t.latest_event for t in response.context["page"].tasks] == ["FAILED", "DONE", "DONE"]
    body = response.content.decode()
    assert 'class="task-row" data-task-pk="8" data-status="FAILED"' in body
    assert 'id="banner-history"' not in body


def test_older_and_newer_move_by_keyset_through_every_task(client: Client) -> None:
    seen, query = [], ""
    while True:
        response = client.get(f"/tasks/{query}")
        seen += pks(response)
        found = re.search(r'id="tasks-older" href="(\?[^"]+)"', response.content.decode())
        if not found:
            break
        query = found.group(1).replace("&amp;", "&")
    assert seen == [8, 7, 6, 5, 4, 3, 2, 1]
    back = client.get("/tasks/?after=3")
    assert pks(back) == [6, 5, 4]
    assert 'id="tasks-newer" href="?after=6"' in back.content.decode()


def test_it_filters_by_family_host_and_task_id_through_indexes(client: Client) -> None:
    assert pks(client.get("/tasks/?family=FetchPages")) == [7, 4, 2]
    assert pks(client.get("/tasks/?family=FetchPages&before=2")) == [1]
    assert pks(client.get("/tasks/?host=w2")) == [7, 6, 2]
    assert pks(client.get("/tasks/?task=FetchPages_news_3")) == [4]


def test_the_status_filter_is_the_latest_event_not_any_event(client: Client) -> None:
    # Task 4 failed twice and then succeeded: it is DONE now.
    with override_settings(WEBMON_PAGE_SIZE=10):
        assert pks(client.get("/tasks/?status=FAILED")) == [8, 5, 2]
        assert pks(client.get("/tasks/?status=DONE&family=FetchPages")) == [7, 4, 1]


def test_it_filters_by_a_parameters_name_and_value(client: Client) -> None:
    with override_settings(WEBMON_PAGE_SIZE=10):
        assert pks(client.get("/tasks/?param=crawl&value=news")) == [6, 4]
        assert pks(client.get("/tasks/?param=note")) == [5]
        assert pks(client.get("/tasks/?value=shop&family=ParsePages")) == [3]


def test_a_scanning_filter_looks_through_a_window_and_says_where_it_stopped(client: Client) -> None:
    with override_settings(WEBMON_SCAN_WINDOW=4, WEBMON_PAGE_SIZE=10):
        first = client.get("/tasks/?status=FAILED")
        assert pks(first) == [8, 5]  # tasks 8..5 looked at
        body = first.content.decode()
        assert 'id="task-scan-note"' in body and "stopped at task record #5" in body
        rest = client.get("/tasks/?status=FAILED&before=5")
        assert pks(rest) == [2]


def test_a_filter_value_that_is_no_number_filters_nothing_and_says_so(client: Client) -> None:
    response = client.get("/tasks/?before=abc&status=NOPE")
    assert response.status_code == 200
    assert pks(response) == [8, 7, 6]
    assert 'id="task-filter-errors"' in response.content.decode()


def test_the_list_costs_one_query_and_two_with_a_scanning_filter(client: Client, num_queries) -> None:
    with num_queries(default=2, history=1):
        # default: 1. the session, 2. the user; history: 1. the page (LIMIT 4), latest events as subqueries
        client.get("/tasks/?family=FetchPages&host=w2")
    with override_settings(WEBMON_PAGE_SIZE=30), num_queries(default=2, history=1):
        client.get("/tasks/")  # 8 rows or 3: the same count
    with num_queries(default=2, history=2):
        # history: 1. the scan window's far end (an index), 2. the page
        client.get("/tasks/?status=FAILED&param=crawl")


def test_the_task_page_shows_its_parameters_and_events_newest_first(client: Client) -> None:
    response = client.get("/tasks/4/")
    assert response.status_code == 200
    events = [e.event_name for e in response.context["events"]]
    assert events == ["DONE", "RUNNING", "PENDING", "FAILED", "RUNNING", "PENDING", "FAILED", "RUNNING", "PENDING"]
    assert {p.name: p.value_head for p in response.context["params"]} == {"at": "3", "crawl": "news"}
    body = response.content.decode()
    assert '<code id="task-task-id">FetchPages_news_3</code>' in body
    assert 'id="task-no-run-records"' in body  # this history has no run tables of ours
    assert 'id="banner-history"' not in body


def test_the_events_of_a_task_are_paginated(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from webmon.monitor.views import tasks

    monkeypatch.setattr(tasks, "EVENTS_PAGE", 4)
    seen, query = [], ""
    while True:
        response = client.get(f"/tasks/4/{query}")
        seen += [e.id for e in response.context["events"]]
        found = re.search(r'id="events-older" href="(\?[^"]+)"', response.content.decode())
        if not found:
            break
        query = found.group(1).replace("&amp;", "&")
    assert len(seen) == 9 and seen == sorted(seen, reverse=True) and len(set(seen)) == 9


def test_the_task_page_costs_a_fixed_number_of_queries(client: Client, num_queries) -> None:
    with num_queries(default=2, history=5):
        # history: 1. the task, 2. its events (LIMIT 101), 3. its parameters,
        # 4. other records of its task_id, 5. run records of its task_id (crawl_runs is missing here)
        client.get("/tasks/4/")


def test_an_unknown_task_is_not_found(client: Client) -> None:
    assert client.get("/tasks/999/").status_code == 404


def test_hostile_names_hosts_and_parameters_are_escaped(client: Client) -> None:
    for path in ("/tasks/", "/tasks/?before=6", "/tasks/5/", "/families/", "/"):
        body = client.get(path).content.decode()
        assert HOSTILE not in body, path
    detail = client.get("/tasks/5/").content.decode()
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in detail
    assert "(cut: 3000 characters)" in detail  # the long value is cut to its head


def test_the_families_page_counts_luigis_tasks_and_links_the_newest(client: Client) -> None:
    response = client.get("/families/")
    lines = {line.family: line.luigi for line in response.context["families"]}
    assert (lines["FetchPages"].tasks, lines["FetchPages"].newest_id, lines["FetchPages"].newest_event) == (
        4, 7, "DONE")
    assert (lines["StoreItems"].tasks, lines["StoreItems"].newest_event) == (1, "FAILED")
    assert '<a href="/tasks/7/">#7</a>' in response.content.decode()


def test_the_families_page_costs_four_queries_for_any_number_of_families(client: Client, num_queries) -> None:
    with num_queries(default=2, history=4):
        # history: 1. Luigi's family names (skip-scan), 2. run-record family names (crawl_runs is missing:
        # the run-record stats are skipped), 3. per family a capped count and the newest task (UNION ALL),
        # 4. the newest tasks' latest events
        client.get("/families/")


def test_the_nav_links_the_tasks_list(client: Client) -> None:
    assert '<a id="nav-tasks" href="/tasks/">Tasks</a>' in client.get("/families/").content.decode()


def test_luigis_task_count_of_a_family_stops_at_the_cap(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from webmon.monitor.views import families

    monkeypatch.setattr(families, "TASK_CAP", 2)
    response = client.get("/families/")
    lines = {line.family: line for line in response.context["families"]}
    assert (lines["FetchPages"].luigi.tasks, lines["FetchPages"].tasks_capped) == (2, True)
    assert (lines["StoreItems"].luigi.tasks, lines["StoreItems"].tasks_capped) == (1, False)
    assert '<td class="tasks">2+</td>' in response.content.decode()
