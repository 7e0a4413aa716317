"""The task families page: runs, failures and p50/p95 durations over a bounded recent window."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from history_seed import HistorySeed, run_row


def test_it_requires_login(anonymous: Client) -> None:
    assert anonymous.get("/families/").status_code == 302


def test_it_counts_runs_and_failures_and_gives_p50_and_p95(client: Client, history: HistorySeed) -> None:
    now = timezone.now()
    rows = [
        run_row(
            family="FetchPages",
            started_at=now - timedelta(hours=i),
            seconds=float(i + 1),
            status="failed" if i % 10 == 0 else "done",
        )
        for i in range(100)
    ]
    rows.append(run_row(family="FetchPages", started_at=now, status="running"))
    rows.append(run_row(family="ParsePages", started_at=now - timedelta(days=40)))  # outside the window
    history.runs_bulk(rows)
    response = client.get("/families/")
    by_family = {line.family: line.runs for line in response.context["families"]}
    fetch = by_family["FetchPages"]
    assert (fetch.runs, fetch.failed, fetch.running) == (101, 10, 1)
    assert fetch.p50.total_seconds() == pytest.approx(50, abs=0.01)
    assert fetch.p95.total_seconds() == pytest.approx(95, abs=0.01)
    assert by_family["ParsePages"].runs == 0
    body = response.content.decode()
    assert 'class="family-row" data-family="FetchPages"' in body
    assert "Run records: counts and durations over the last 30 days" in body


def test_the_window_is_at_most_the_newest_runs_of_each_family(client: Client, history: HistorySeed) -> None:
    from webmon.monitor.views import families

    now = timezone.now()
    history.runs_bulk([run_row(family="Many", started_at=now - timedelta(minutes=i)) for i in range(12)])
    original, families.PER_FAMILY = families.PER_FAMILY, 10
    try:
        response = client.get("/families/")
    finally:
        families.PER_FAMILY = original
    row = response.context["families"][0].runs
    assert (row.runs, row.capped) == (10, True)
    assert '<td class="runs"><a href="/runs/?family=Many">10+</a></td>' in response.content.decode()


def test_reading_the_window_leaves_garbage_collection_as_it_found_it(client: Client, history: HistorySeed) -> None:
    import gc

    now = timezone.now()
    history.runs_bulk([run_row(family="FetchPages", started_at=now - timedelta(minutes=i)) for i in range(5)])
    assert gc.isenabled()
    assert client.get("/families/").status_code == 200
    assert gc.isenabled()  # paused only while the rows are summed up
    gc.disable()
    try:
        assert client.get("/families/").status_code == 200
        assert not gc.isenabled()  # someone else's pause is not ended by the page
    finally:
        gc.enable()


@pytest.mark.parametrize("per_family", [3, 30])
def test_its_queries_do_not_grow_with_runs_or_families(
    client: Client, history: HistorySeed, num_queries, per_family: int
) -> None:
    now = timezone.now()
    history.runs_bulk(
        [
            run_row(family=f"Family{f}", started_at=now - timedelta(minutes=i))
            for f in range(per_family // 3 + 1)
            for i in range(per_family)
        ]
    )
    with num_queries(default=2, history=4):
        # default: 1. the session, 2. the user
        # history: 1. Luigi's family names, 2. run-record family names (index skip-scans),
        # 3. per family Luigi's capped task count and newest task (UNION ALL; none here, so
        # no 4th query for their latest events), 4. the newest runs of each family in 30 days (UNION ALL)
        response = client.get("/families/")
    assert response.status_code == 200


def test_a_family_shows_luigis_tasks_next_to_its_run_records(
    client: Client, history: HistorySeed, num_queries
) -> None:
    now = timezone.now()
    history.runs_bulk([run_row(family="FetchPages", started_at=now - timedelta(minutes=i)) for i in range(3)])
    history.luigi_task("FetchPages_a", "FetchPages", {"crawl": "a"}, [("RUNNING", now), ("DONE", now)])
    newest = history.luigi_task("FetchPages_b", "FetchPages", {"crawl": "b"}, [("RUNNING", now), ("FAILED", now)])
    history.luigi_task("OnlyInLuigi_c", "OnlyInLuigi", {}, [("PENDING", now)])
    with num_queries(default=2, history=5):
        # history: 1.-2. Luigi's and the run records' family names, 3. Luigi's capped counts and newest
        # tasks, 4. those tasks' latest events, 5. the newest runs of each family in 30 days
        response = client.get("/families/")
    lines = {line.family: line for line in response.context["families"]}
    assert (lines["FetchPages"].luigi.tasks, lines["FetchPages"].luigi.newest_id) == (2, newest)
    assert lines["FetchPages"].luigi.newest_event == "FAILED"
    assert lines["FetchPages"].runs.runs == 3
    assert (lines["OnlyInLuigi"].luigi.tasks, lines["OnlyInLuigi"].runs) == (1, None)
