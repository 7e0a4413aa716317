"""The run totals in the history DB: kept by the worker's finish and the sweep, equal to a rebuild."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines.runs import records, totals
from pipelines.runs.models import DONE, FAILED, KILLED, crawl_totals, metadata, run_totals
from pipelines.runs.sweep import sweep
from tests.conftest import ROOT

T0 = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
FETCH_STATS = {
    "fetched": 120, "failed": 7, "skipped": 3, "requests": 131, "bytes": 2_500_000, "retries": 4,
    "failed_by_reason": {"timeout": 2, "http_404": 3, "http_503": 1, "unfollowed_redirect": 1},
    "skipped_by_reason": {"offsite": 3}, "responses_by_status": {"200": 118, "301": 2, "404": 3, "503": 1},
    "retries_by_reason": {"timeout": 4}, "elapsed_s": 12.5,
}
PARSE_STATS = {"pages": 124, "item_pages": 100, "items": 96, "no_item": 1, "errors": 3}
STORE_STATS = {"items": 96, "new": 10, "changed": 6, "unchanged": 80, "duplicates": 0}


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return records.engine_for(f"sqlite:///{tmp_path}/history.db")


def finished(engine: Engine, family: str, status: str, *, start: datetime, seconds: float, crawl: str | None = "shop",
             stats: dict | None = None, task_id: str | None = None) -> int:
    """A run through the worker's code path: create_run, then finish."""
    run_id, _ = records.create_run(engine, task_id=task_id or f"{family}_{crawl}_{start:%H%M%S}", family=family,
                                   crawl=crawl, params="{}", host="other-host", pid=4242, worker="w", now=start)
    records.finish(engine, run_id, status=status, now=start + timedelta(seconds=seconds),
                   stats=json.dumps(stats) if stats is not None else None)
    return run_id


def one_tick(engine: Engine, crawl: str, start: datetime) -> None:
    finished(engine, "FetchPages", DONE, start=start, seconds=40, crawl=crawl, stats=FETCH_STATS)
    finished(engine, "ParsePages", DONE, start=start + timedelta(seconds=41), seconds=4, crawl=crawl,
             stats=PARSE_STATS)
    finished(engine, "StoreItems", DONE, start=start + timedelta(seconds=46), seconds=2, crawl=crawl,
             stats=STORE_STATS)
    finished(engine, "RunCrawl", DONE, start=start + timedelta(seconds=49), seconds=0.5, crawl=crawl,
             stats={"fetch": FETCH_STATS, "store": STORE_STATS, "summary": "x"})


def run_totals_of(engine: Engine) -> dict[tuple[str, str], dict[str, Any]]:
    rows, _ = totals.read_totals(engine)
    return {(r.pop("family"), r.pop("status")): r for r in rows}


def crawl_totals_of(engine: Engine, tasks: bool = False) -> dict[tuple[str, str], float]:
    """The crawl totals; the task runs per crawl (runs.*, failed_at.*) only when asked for."""
    _, rows = totals.read_totals(engine)
    task_names = (totals.TASK_RUNS, totals.TASK_FAILED_AT)
    return {(r["crawl"], r["name"]): r["value"] for r in rows if tasks or not r["name"].startswith(task_names)}


def buckets(*durations: float) -> dict[str, int]:
    les = (1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200)
    return {col: sum(d <= le for d in durations) for col, le in zip(totals.BUCKET_COLUMNS, les, strict=True)}


def test_finishing_runs_adds_them_to_the_family_totals(engine: Engine) -> None:
    finished(engine, "FetchPages", DONE, start=T0, seconds=40)
    finished(engine, "FetchPages", DONE, start=T0 + timedelta(hours=1), seconds=700)
    finished(engine, "FetchPages", FAILED, start=T0 + timedelta(hours=2), seconds=3)

    assert run_totals_of(engine) == {
        ("FetchPages", DONE): {"runs": 2, "duration_us": 740_000_000, **buckets(40, 700),
                               "last_finished": (T0 + timedelta(hours=1, seconds=700)).timestamp(),
                               "last_duration_us": 700_000_000},
        ("FetchPages", FAILED): {"runs": 1, "duration_us": 3_000_000, **buckets(3),
                                 "last_finished": (T0 + timedelta(hours=2, seconds=3)).timestamp(),
                                 "last_duration_us": 3_000_000},
    }


def test_a_tick_adds_its_stages_counters_to_the_crawl_totals(engine: Engine) -> None:
    one_tick(engine, "shop", T0)
    one_tick(engine, "shop", T0 + timedelta(hours=1))

    assert crawl_totals_of(engine) == {
        ("shop", "bytes"): 5_000_000,
        ("shop", "failures_http_4xx"): 6,
        ("shop", "failures_http_5xx"): 2,
        ("shop", "failures_other"): 2,
        ("shop", "failures_timeout"): 4,
        ("shop", "items_dropped"): 6,
        ("shop", "items_parsed"): 192,
        ("shop", "items_stored_changed"): 12,
        ("shop", "items_stored_new"): 20,
        ("shop", "items_stored_unchanged"): 160,
        ("shop", "last_success_at"): (T0 + timedelta(hours=1, seconds=49.5)).timestamp(),
        ("shop", "pages_fetched"): 240,
        ("shop", "parse_runs"): 2,
        ("shop", "responses_2xx"): 236,
        ("shop", "responses_3xx"): 4,
        ("shop", "responses_4xx"): 6,
        ("shop", "responses_5xx"): 2,
        ("shop", "retries"): 8,
    }


def test_task_runs_are_counted_per_crawl_family_and_status_with_the_newest_failure(engine: Engine) -> None:
    finished(engine, "FetchPages", DONE, start=T0, seconds=40, stats=FETCH_STATS)
    finished(engine, "FetchPages", FAILED, start=T0 + timedelta(hours=2), seconds=3)
    finished(engine, "FetchPages", FAILED, start=T0 + timedelta(hours=1), seconds=3)  # older: not the newest
    finished(engine, "FetchPages", FAILED, start=T0, seconds=3, crawl="blog")
    finished(engine, "BackupDatabase", FAILED, start=T0, seconds=9, crawl=None)  # no crawl: crawl ""

    assert {k: v for k, v in crawl_totals_of(engine, tasks=True).items() if k[1].startswith(("runs.", "failed_at."))} == {
        ("", "failed_at.BackupDatabase"): (T0 + timedelta(seconds=9)).timestamp(),
        ("", "runs.failed.BackupDatabase"): 1,
        ("blog", "failed_at.FetchPages"): (T0 + timedelta(seconds=3)).timestamp(),
        ("blog", "runs.failed.FetchPages"): 1,
        ("shop", "failed_at.FetchPages"): (T0 + timedelta(hours=2, seconds=3)).timestamp(),
        ("shop", "runs.done.FetchPages"): 1,
        ("shop", "runs.failed.FetchPages"): 2,
    }
    kept = totals.read_totals(engine)
    totals.rebuild(engine)
    assert totals.read_totals(engine) == kept


def test_parse_runs_count_the_runs_that_reported_items_even_none(engine: Engine) -> None:
    finished(engine, "ParsePages", DONE, start=T0, seconds=4, stats=PARSE_STATS)
    finished(engine, "ParsePages", DONE, start=T0 + timedelta(hours=1), seconds=4, stats={**PARSE_STATS, "items": 0})
    finished(engine, "ParsePages", FAILED, start=T0 + timedelta(hours=2), seconds=4)  # no stats: no run of items

    assert crawl_totals_of(engine)["shop", "parse_runs"] == 2
    assert crawl_totals_of(engine)["shop", "items_parsed"] == 96


def test_only_a_done_run_crawl_is_a_crawl_success(engine: Engine) -> None:
    finished(engine, "RunCrawl", DONE, start=T0, seconds=1)
    finished(engine, "RunCrawl", FAILED, start=T0 + timedelta(hours=1), seconds=1)
    finished(engine, "StoreItems", DONE, start=T0 + timedelta(hours=2), seconds=1, stats=STORE_STATS)

    assert crawl_totals_of(engine)["shop", "last_success_at"] == (T0 + timedelta(seconds=1)).timestamp()


def test_a_crawl_given_as_a_spec_path_counts_under_its_name(engine: Engine) -> None:
    finished(engine, "ParsePages", DONE, start=T0, seconds=1, crawl="/srv/specs/shop.toml", stats=PARSE_STATS)
    finished(engine, "ParsePages", DONE, start=T0, seconds=1, crawl="shop", stats=PARSE_STATS)

    assert crawl_totals_of(engine) == {("shop", "items_dropped"): 6, ("shop", "items_parsed"): 192,
                                       ("shop", "parse_runs"): 2}


def test_failure_reasons_fold_into_the_fixed_words() -> None:
    assert [totals.failure_reason(r) for r in ("timeout", "http_404", "http_599", "http_4040", "unfollowed_redirect",
                                               "https://x.example/secret", "no_live_proxy")] == [
        "timeout", "http_4xx", "http_5xx", "other", "other", "other", "no_live_proxy"]


def test_stats_that_are_not_counters_are_ignored(engine: Engine) -> None:
    finished(engine, "FetchPages", DONE, start=T0, seconds=1,
             stats={"fetched": "many", "bytes": -5, "retries": True, "responses_by_status": {"2000": 1, "abc": 2,
                                                                                           "600": 1, "200": 1.5}})
    finished(engine, "FetchPages", DONE, start=T0, seconds=1, stats=None)
    rid, _ = records.create_run(engine, task_id="x", family="FetchPages", crawl="shop", params="{}", host="h", pid=1,
                                worker=None, now=T0)
    records.finish(engine, rid, status=DONE, now=T0, stats="not json")

    assert crawl_totals_of(engine) == {}
    assert run_totals_of(engine)["FetchPages", DONE]["runs"] == 3


def test_a_run_the_sweep_kills_is_counted_killed_with_its_last_heartbeat_as_end(engine: Engine) -> None:
    rid, _ = records.create_run(engine, task_id="t", family="FetchPages", crawl="shop", params="{}",
                                host="other-host", pid=1, worker=None, now=T0)
    records.beat(engine, rid, T0 + timedelta(seconds=30))

    assert sweep(engine, T0 + timedelta(seconds=200), dead_after=60) == [rid]
    assert sweep(engine, T0 + timedelta(seconds=300), dead_after=60) == []  # counted once

    assert run_totals_of(engine) == {("FetchPages", KILLED): {
        "runs": 1, "duration_us": 30_000_000, **buckets(30),
        "last_finished": (T0 + timedelta(seconds=30)).timestamp(), "last_duration_us": 30_000_000}}


def test_a_dead_local_process_is_counted_killed(engine: Engine) -> None:
    import socket

    rid, _ = records.create_run(engine, task_id="t", family="ParsePages", crawl="shop", params="{}",
                                host=socket.gethostname(), pid=99_999_999, worker=None, now=T0)

    assert sweep(engine, T0 + timedelta(seconds=1), dead_after=60, alive=lambda pid: False) == [rid]
    assert run_totals_of(engine)["ParsePages", KILLED]["runs"] == 1


def test_a_killed_run_that_was_alive_after_all_keeps_both_outcomes_so_counters_never_fall(engine: Engine) -> None:
    rid, _ = records.create_run(engine, task_id="t", family="FetchPages", crawl="shop", params="{}",
                                host="other-host", pid=1, worker=None, now=T0)
    sweep(engine, T0 + timedelta(seconds=100), dead_after=60)
    records.beat(engine, rid, T0 + timedelta(seconds=110))  # only stalled: running again
    records.finish(engine, rid, status=DONE, now=T0 + timedelta(seconds=120), stats=json.dumps(FETCH_STATS))

    counts = {key: row["runs"] for key, row in run_totals_of(engine).items()}
    assert counts == {("FetchPages", KILLED): 1, ("FetchPages", DONE): 1}
    assert crawl_totals_of(engine)["shop", "pages_fetched"] == 120


def test_a_rebuild_equals_the_totals_kept_by_the_workers(engine: Engine) -> None:
    for hour in range(5):
        one_tick(engine, f"crawl{hour % 2}", T0 + timedelta(hours=hour))
    finished(engine, "FetchPages", FAILED, start=T0 + timedelta(hours=6), seconds=5000)
    finished(engine, "Other", DONE, start=T0, seconds=2, crawl=None)
    records.create_run(engine, task_id="dead", family="ParsePages", crawl="shop", params="{}", host="other-host",
                       pid=1, worker=None, now=T0)
    records.create_run(engine, task_id="live", family="ParsePages", crawl="shop", params="{}", host="other-host",
                       pid=1, worker=None, now=T0 + timedelta(hours=9))
    sweep(engine, T0 + timedelta(hours=9), dead_after=60)
    kept = totals.read_totals(engine)
    # 34 stats rows, 2 parse_runs, 13 task-run rows (4 families done x 2 crawls; shop's failed FetchPages and
    # killed ParsePages, each with its failed_at; Other, crawl "").
    assert len(kept[0]) == 7 and len(kept[1]) == 49

    assert totals.rebuild(engine) == 23
    assert totals.read_totals(engine) == kept


def test_a_rebuild_counts_runs_inserted_before_the_totals_existed(engine: Engine) -> None:
    rows = [{"task_id": f"t{i}", "family": "FetchPages", "crawl": "shop", "params": "{}", "host": "h", "pid": 1,
             "attempt": 1, "status": DONE if i % 4 else FAILED, "started_at": T0 + timedelta(minutes=i),
             "finished_at": T0 + timedelta(minutes=i, seconds=i), "heartbeat_at": T0,
             "stats": json.dumps(FETCH_STATS) if i % 4 else None, "log_lines": 0, "log_truncated": False}
            for i in range(1, 101)]
    rows.append({**rows[0], "task_id": "running", "status": "running", "finished_at": None})
    with engine.begin() as conn:
        conn.execute(sa.insert(metadata.tables["crawl_runs"]), rows)

    assert totals.rebuild(engine) == 100
    counts = run_totals_of(engine)
    assert (counts["FetchPages", DONE]["runs"], counts["FetchPages", FAILED]["runs"]) == (75, 25)
    assert counts["FetchPages", DONE]["le_60"] == 45  # the done runs of 1..60 s
    assert crawl_totals_of(engine)["shop", "pages_fetched"] == 75 * 120

    assert totals.rebuild(engine) == 100  # again: the same, not doubled
    assert crawl_totals_of(engine)["shop", "pages_fetched"] == 75 * 120


def test_the_rebuild_command_uses_the_history_db_of_luigi_cfg(engine: Engine, tmp_path: Path) -> None:
    one_tick(engine, "shop", T0)
    with engine.begin() as conn:
        conn.execute(run_totals.delete())
        conn.execute(crawl_totals.delete())
    config = tmp_path / "luigi.cfg"
    config.write_text(f"[task_history]\ndb_connection = {engine.url}\n")

    done = subprocess.run([sys.executable, "-m", "pipelines.runs.totals", "--rebuild"], cwd=ROOT, text=True,
                          capture_output=True, timeout=60, env={**os.environ, "LUIGI_CONFIG_PATH": str(config)})

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rebuilt the run totals from 4 finished runs in ")
    assert crawl_totals_of(engine)["shop", "pages_fetched"] == 120


def test_a_broken_totals_table_never_costs_a_run_its_record(engine: Engine, capfd: pytest.CaptureFixture) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE crawl_run_totals")
    run_id = finished(engine, "FetchPages", DONE, start=T0, seconds=3, stats=FETCH_STATS)

    assert records.get_run(engine, run_id)["status"] == DONE
    with engine.connect() as conn:  # rolled back with the failed part
        assert conn.execute(sa.select(crawl_totals)).all() == []
    assert "run totals not updated for run 1" in capfd.readouterr().err


def _server_world(url: str) -> None:
    engine = records.engine_for(url)
    try:
        with engine.begin() as conn:  # a fresh world per test on the module's database
            conn.execute(run_totals.delete())
            conn.execute(crawl_totals.delete())
            conn.execute(metadata.tables["crawl_runs"].delete())
        for hour in range(3):
            one_tick(engine, "shop", T0 + timedelta(hours=hour))
        finished(engine, "FetchPages", FAILED, start=T0 + timedelta(hours=4), seconds=5000)
        records.create_run(engine, task_id="dead", family="ParsePages", crawl="shop", params="{}",
                           host="other-host", pid=1, worker=None, now=T0)
        sweep(engine, T0 + timedelta(hours=9), dead_after=60)
        kept = totals.read_totals(engine)
        assert run_totals_of(engine)["FetchPages", DONE]["runs"] == 3
        assert crawl_totals_of(engine)["shop", "pages_fetched"] == 360
        assert crawl_totals_of(engine)["shop", "last_success_at"] == (T0 + timedelta(hours=2, seconds=49.5)).timestamp()
        assert run_totals_of(engine)["ParsePages", KILLED]["runs"] == 1

        assert totals.rebuild(engine) == 14
        assert totals.read_totals(engine) == kept
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_the_totals_upserts_on_postgresql(postgres_url: str) -> None:
    _server_world(postgres_url)


@pytest.mark.mariadb
def test_the_totals_upserts_on_mariadb(mariadb_url: str) -> None:
    _server_world(mariadb_url)


@pytest.mark.parametrize("earlier", [10, 1000])
def test_a_finish_makes_the_same_statements_whatever_the_history(engine: Engine, earlier: int) -> None:
    rows = [{"task_id": f"t{i}", "family": "FetchPages", "crawl": "shop", "params": "{}", "host": "h", "pid": 1,
             "attempt": 1, "status": DONE, "started_at": T0, "finished_at": T0, "heartbeat_at": T0,
             "stats": json.dumps(FETCH_STATS), "log_lines": 0, "log_truncated": False} for i in range(earlier)]
    with engine.begin() as conn:
        conn.execute(sa.insert(metadata.tables["crawl_runs"]), rows)
    totals.rebuild(engine)
    run_id, _ = records.create_run(engine, task_id="new", family="FetchPages", crawl="shop", params="{}", host="h",
                                   pid=1, worker=None, now=T0)
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement.split()[0])

    sa.event.listen(engine, "before_cursor_execute", seen)
    try:
        records.finish(engine, run_id, status=DONE, now=T0 + timedelta(seconds=5), stats=json.dumps(FETCH_STATS))
    finally:
        sa.event.remove(engine, "before_cursor_execute", seen)

    # the run's UPDATE, its family/crawl/start, the family totals, the crawl totals (one executemany)
    assert statements == ["UPDATE", "SELECT", "INSERT", "INSERT"]
