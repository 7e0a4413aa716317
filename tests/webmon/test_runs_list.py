"""The runs list: filters, keyset pagination, newest first, a fixed number of queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client, override_settings
from history_seed import HistorySeed, run_row

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def ids_on(response) -> list[int]:
    return [run.id for run in response.context["page"].runs]


def link(response, element_id: str) -> str | None:
    """The query string of the pager link with this id, read from the HTML."""
    body = response.content.decode()
    marker = f'id="{element_id}" href="?'
    if marker not in body:
        return None
    return body.split(marker, 1)[1].split('"', 1)[0].replace("&amp;", "&")


def seed_runs(history: HistorySeed, n: int, **fields) -> list[int]:
    """n runs a minute apart (newest last); returns their ids."""
    rows = [run_row(started_at=T0 + timedelta(minutes=i), **fields) for i in range(n)]
    history.runs_bulk(rows)
    return list(range(1, n + 1))


def test_it_requires_login(anonymous: Client) -> None:
    response = anonymous.get("/runs/?crawl=demo")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/runs/%3Fcrawl%3Ddemo"


def test_it_lists_runs_newest_first(client: Client, history: HistorySeed) -> None:
    ids = seed_runs(history, 5)
    response = client.get("/runs/")
    assert response.status_code == 200
    assert ids_on(response) == list(reversed(ids))
    assert 'class="run-row" data-run-id="5"' in response.content.decode()


@pytest.mark.parametrize("rows", [3, 30])
def test_its_queries_do_not_grow_with_the_number_of_runs(
    client: Client, history: HistorySeed, num_queries, rows: int
) -> None:
    for i in range(rows):
        history.run(crawl=f"c{i % 4}", family=("FetchPages", "Odd")[i % 2], started_at=T0 + timedelta(minutes=i))
    with num_queries(default=2, history=3):
        # default: 1. the session, 2. the user
        # history: 1. crawl names, 2. family names (index skip-scans), 3. one page (LIMIT size + 1)
        response = client.get("/runs/?crawl=c1")
    assert response.status_code == 200


def test_a_scanning_filter_costs_one_query_more(client: Client, history: HistorySeed, num_queries) -> None:
    seed_runs(history, 10)
    with num_queries(default=2, history=4):
        # history: 1-2. crawl and family names, 3. the far end of the scan window, 4. the page
        client.get("/runs/?status=failed")


def test_pages_continue_exactly_where_the_last_one_stopped(client: Client, history: HistorySeed) -> None:
    # Runs that share a start time are ordered by id: the cursor is (started_at, id).
    rows = [run_row(started_at=T0 + timedelta(minutes=i // 3)) for i in range(23)]
    history.runs_bulk(rows)
    seen, query = [], ""
    with override_settings(WEBMON_PAGE_SIZE=5):
        for _ in range(10):
            response = client.get(f"/runs/?{query}")
            seen.extend(ids_on(response))
            query = link(response, "page-older")
            if query is None:
                break
    expected = sorted(range(1, 24), key=lambda i: (rows[i - 1]["started_at"], i), reverse=True)
    assert seen == expected


def test_newer_goes_back_to_the_page_before(client: Client, history: HistorySeed) -> None:
    seed_runs(history, 12)
    with override_settings(WEBMON_PAGE_SIZE=5):
        first = client.get("/runs/")
        second = client.get(f"/runs/?{link(first, 'page-older')}")
        third = client.get(f"/runs/?{link(second, 'page-older')}")
        back = client.get(f"/runs/?{link(third, 'page-newer')}")
        assert ids_on(back) == ids_on(second)
        top = client.get(f"/runs/?{link(back, 'page-newer')}")
        assert ids_on(top) == ids_on(first)
    assert ids_on(third) == [2, 1]
    assert link(third, "page-older") is None
    assert link(first, "page-newer") is None
    assert link(second, "page-newest") == ""


def test_the_filters_keep_their_values_across_pages(client: Client, history: HistorySeed) -> None:
    seed_runs(history, 8, crawl="shop")
    seed_runs(history, 8, crawl="books")
    with override_settings(WEBMON_PAGE_SIZE=3):
        first = client.get("/runs/?crawl=shop")
        older = link(first, "page-older")
    assert parse_qs(older)["crawl"] == ["shop"]
    assert all(run.crawl == "shop" for run in client.get(f"/runs/?{older}").context["page"].runs)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("crawl=shop", {1, 2}),
        ("family=ParsePages", {2, 4}),
        ("status=failed", {3}),
        ("host=worker-2", {4}),
        ("q=special-value", {1}),
        ("task=FetchPages_custom", {5}),
        ("since=2026-03-01T12:02", {3, 4, 5}),
        ("until=2026-03-01T12:02", {1, 2}),
        ("since=2026-03-01T12:01&until=2026-03-01T12:03&family=ParsePages", {2}),
        ("crawl=shop&family=ParsePages", {2}),
    ],
)
def test_each_filter_narrows_the_list(client: Client, history: HistorySeed, query: str, expected: set[int]) -> None:
    history.run(crawl="shop", family="FetchPages", started_at=T0, params='{"token": "special-value"}')
    history.run(crawl="shop", family="ParsePages", started_at=T0 + timedelta(minutes=1))
    history.run(crawl="books", family="FetchPages", status="failed", started_at=T0 + timedelta(minutes=2))
    history.run(crawl="books", family="ParsePages", host="worker-2", started_at=T0 + timedelta(minutes=3))
    history.run(crawl="books", family="FetchPages", task_id="FetchPages_custom", started_at=T0 + timedelta(minutes=4))
    response = client.get(f"/runs/?{query}")
    assert response.status_code == 200
    assert set(ids_on(response)) == expected


def test_a_rare_value_stops_at_the_scan_window_and_older_continues(client: Client, history: HistorySeed) -> None:
    rows = [
        run_row(started_at=T0 + timedelta(minutes=i), status="failed" if i in (2, 15) else "done") for i in range(20)
    ]
    history.runs_bulk(rows)
    with override_settings(WEBMON_SCAN_WINDOW=10, WEBMON_PAGE_SIZE=5):
        first = client.get("/runs/?status=failed")
        # The window covers the 10 newest runs (ids 20..11): only id 16 failed there.
        assert ids_on(first) == [16]
        page = first.context["page"]
        assert page.scanned_to == rows[10]["started_at"]
        assert 'id="scan-note"' in first.content.decode()
        second = client.get(f"/runs/?{link(first, 'page-older')}")
        assert ids_on(second) == [3]


def test_bad_filter_values_are_refused_with_a_message_not_an_error(client: Client, history: HistorySeed) -> None:
    seed_runs(history, 2)
    response = client.get("/runs/?since=yesterday&status=exploded&before=garbage")
    assert response.status_code == 200
    body = response.content.decode()
    assert 'id="filter-errors"' in body
    assert "Enter a valid date/time." in body
    assert ids_on(response) == [2, 1]  # the bad filters filter nothing


def test_a_filter_value_unknown_to_the_lists_is_still_offered_back(client: Client, history: HistorySeed) -> None:
    seed_runs(history, 1)
    body = client.get("/runs/?crawl=nosuch").content.decode()
    assert '<option value="nosuch" selected>nosuch</option>' in body
    assert 'id="runs-empty"' in body


def test_the_page_links_to_each_run_and_its_crawl(client: Client, history: HistorySeed) -> None:
    history.run(crawl="a b&c", started_at=T0)
    body = client.get("/runs/").content.decode()
    assert 'href="/runs/1/"' in body
    assert 'href="/crawl/?name=a%20b%26c"' in body


def test_the_cursor_is_readable_and_round_trips() -> None:
    from webmon.history.queries import Cursor

    cursor = Cursor(datetime(2026, 3, 1, 12, 0, 0, 5, tzinfo=UTC), 42)
    assert cursor.encode() == "20260301T120000.000005Z-42"
    assert Cursor.decode(cursor.encode()) == cursor
    assert Cursor.decode("20260301T120000Z-42") is None
    assert Cursor.decode("") is None


def test_links_keep_only_the_path_free_of_the_cursor(client: Client, history: HistorySeed) -> None:
    seed_runs(history, 3)
    with override_settings(WEBMON_PAGE_SIZE=1):
        first = client.get("/runs/?family=FetchPages")
    older = link(first, "page-older")
    assert urlsplit(f"?{older}").query.startswith("family=FetchPages&before=")


def test_a_scanning_walk_with_runs_sharing_a_start_time_sees_each_run_once(
    client: Client, history: HistorySeed
) -> None:
    # Three runs per instant; the window's edge falls inside such a group.
    rows = [run_row(started_at=T0 + timedelta(minutes=i // 3), host="h") for i in range(31)]
    history.runs_bulk(rows)
    seen, query = [], "host=h"
    with override_settings(WEBMON_SCAN_WINDOW=10, WEBMON_PAGE_SIZE=4):
        for _ in range(40):
            response = client.get(f"/runs/?{query}")
            seen.extend(ids_on(response))
            query = link(response, "page-older")
            if query is None:
                break
    expected = sorted(range(1, 32), key=lambda i: (rows[i - 1]["started_at"], i), reverse=True)
    assert seen == expected


# -- the tick column and the runs grouped by tick ----------------------------------------------------


def test_each_run_shows_its_ticks_logical_time(client: Client, history: HistorySeed) -> None:
    history.tick("demo", datetime(2026, 3, 1, 7, 30, tzinfo=UTC))
    history.run(family="Odd", crawl=None, started_at=T0)
    body = client.get("/runs/").content.decode()
    assert body.count('<td class="tick"><time datetime="2026-03-01T07:30:00+00:00">2026-03-01 07:30</time></td>') == 4
    assert '<td class="tick">—</td>' in body  # no `at` parameter


def tick_rows_on(response) -> list[tuple[str, str, int]]:
    return [(row.at.strftime("%H:%M"), row.status, row.attempts) for row in response.context["tick_rows"]]


def test_grouped_by_tick_a_tick_is_one_row_with_its_attempts(client: Client, history: HistorySeed) -> None:
    history.attempts("demo", T0, [("FetchPages", "failed"), ("FetchPages", "done"), ("ParsePages", "done"),
                                  ("StoreItems", "done"), ("RunCrawl", "done")])
    history.attempts("demo", T0 + timedelta(hours=1), [("FetchPages", "done"), ("ParsePages", "failed")])
    history.attempts("demo", T0 + timedelta(hours=2), [("FetchPages", "running")])
    history.run(family="Odd", crawl="demo", started_at=T0 + timedelta(hours=3))  # not a tick: not listed
    response = client.get("/runs/?group=tick")
    assert tick_rows_on(response) == [("14:00", "stale", 1), ("13:00", "failed", 2), ("12:00", "done", 5)]
    body = response.content.decode()
    first = response.context["tick_rows"][2]
    assert [(family, [r.status for r in runs]) for family, runs in first.stages] == [
        ("FetchPages", ["failed", "done"]), ("ParsePages", ["done"]), ("StoreItems", ["done"]), ("RunCrawl", ["done"])]
    for runs in (runs for _, runs in first.stages):
        for run in runs:
            assert f'href="/runs/{run.id}/"' in body
    assert 'id="runs-ungrouped"' in body and 'name="group" value="tick"' in body


@override_settings(WEBMON_PAGE_SIZE=3)
def test_grouped_pages_continue_by_keyset_and_list_every_tick_once(client: Client, history: HistorySeed) -> None:
    ats = [T0 + timedelta(hours=i) for i in range(8)]
    for at in ats:
        history.tick("demo", at)
    # The first tick is retried last: its newest run makes it the newest tick.
    history.attempts("demo", ats[0], [("RunCrawl", "done")], start=T0 + timedelta(hours=9))
    seen, query = [], "group=tick"
    for _ in range(5):
        response = client.get(f"/runs/?{query}")
        seen += [row.at for row in response.context["tick_rows"]]
        query = link(response, "page-older")
        if query is None:
            break
    assert seen == [ats[0], *reversed(ats[1:])]


@pytest.mark.parametrize("ticks", [2, 20])
def test_grouped_queries_do_not_grow_with_the_number_of_ticks(
    client: Client, history: HistorySeed, num_queries, ticks: int
) -> None:
    for i in range(ticks):
        history.tick("demo", T0 + timedelta(hours=i), statuses={"ParsePages": "failed"} if i % 3 == 0 else None)
    with num_queries(default=2, history=4):
        # history: 1-2. crawl and family names, 3. a page of runs of the tick families (LIMIT 4 x size + 1),
        # 4. every run of those ticks (task ids)
        response = client.get("/runs/?group=tick&crawl=demo")
    assert len(response.context["tick_rows"]) == ticks
