"""Run records without luigi: attempts, heartbeats, the sweep (clock passed in), reads and their indexes."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from pipelines.runs import records
from pipelines.runs.logrows import LogRows
from pipelines.runs.models import DONE, FAILED, KILLED, RUNNING, run_logs, runs
from pipelines.runs.sweep import main as sweep_main
from pipelines.runs.sweep import sweep

T0 = datetime(2026, 11, 21, 7, 30, tzinfo=UTC)
HOST = socket.gethostname()


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return records.engine_for(f"sqlite:///{tmp_path}/history.db")


def new_run(engine: Engine, task_id: str = "FetchPages_demo_abc", *, host: str = "other-host", pid: int = 4242,
            now: datetime = T0) -> int:
    run_id, _ = records.create_run(engine, task_id=task_id, family="FetchPages", crawl="demo", params="{}",
                                   host=host, pid=pid, worker="w1", now=now)
    return run_id


def test_attempts_count_earlier_runs_of_the_same_task_id(engine: Engine) -> None:
    attempts = [records.create_run(engine, task_id=t, family="F", crawl=None, params="{}", host="h", pid=1,
                                   worker=None, now=T0)[1] for t in ("a", "a", "b", "a")]
    assert attempts == [1, 2, 1, 3]


def test_a_new_run_is_running_with_aware_utc_times(engine: Engine) -> None:
    run = records.get_run(engine, new_run(engine))
    assert run["status"] == RUNNING
    assert run["started_at"] == run["heartbeat_at"] == T0
    assert run["started_at"].tzinfo is not None


def test_the_sweep_kills_a_run_whose_heartbeat_is_stale(engine: Engine) -> None:
    stale, fresh = new_run(engine), new_run(engine, "other")
    records.beat(engine, fresh, T0 + timedelta(seconds=50))

    killed = sweep(engine, T0 + timedelta(seconds=61), dead_after=60)

    assert killed == [stale]
    run = records.get_run(engine, stale)
    assert run["status"] == KILLED
    assert run["finished_at"] == T0  # the last moment it was known alive
    assert "no heartbeat for more than 60 s" in run["error_message"]
    assert records.get_run(engine, fresh)["status"] == RUNNING


def test_the_sweep_leaves_runs_with_a_recent_heartbeat_and_finished_runs_alone(engine: Engine) -> None:
    alive, done = new_run(engine), new_run(engine, "done")
    records.finish(engine, done, status=DONE, now=T0 + timedelta(seconds=1))
    assert sweep(engine, T0 + timedelta(seconds=59), dead_after=60) == []
    assert sweep(engine, T0 + timedelta(hours=5), dead_after=60) == [alive]
    assert records.get_run(engine, done)["status"] == DONE


def test_the_sweep_is_idempotent(engine: Engine) -> None:
    run_id = new_run(engine)
    later = T0 + timedelta(minutes=5)
    assert sweep(engine, later, dead_after=60) == [run_id]
    assert sweep(engine, later, dead_after=60) == []
    assert records.get_run(engine, run_id)["finished_at"] == T0


def test_the_sweep_kills_at_once_a_run_of_this_host_whose_process_is_gone(engine: Engine) -> None:
    gone = new_run(engine, host=HOST, pid=111)
    alive = new_run(engine, "alive", host=HOST, pid=222)
    elsewhere = new_run(engine, "elsewhere", host="another-host", pid=111)

    killed = sweep(engine, T0 + timedelta(seconds=1), dead_after=60, alive=lambda pid: pid == 222)

    assert killed == [gone]
    assert "process 111 on" in records.get_run(engine, gone)["error_message"]
    assert records.get_run(engine, alive)["status"] == RUNNING
    assert records.get_run(engine, elsewhere)["status"] == RUNNING  # its pid means nothing here


def test_a_heartbeat_revives_a_run_the_sweep_killed_too_early(engine: Engine) -> None:
    run_id = new_run(engine)
    sweep(engine, T0 + timedelta(minutes=2), dead_after=60)
    records.beat(engine, run_id, T0 + timedelta(minutes=3))
    run = records.get_run(engine, run_id)
    assert (run["status"], run["finished_at"], run["error_message"]) == (RUNNING, None, None)


def test_the_end_of_a_run_overwrites_a_sweep(engine: Engine) -> None:
    run_id = new_run(engine)
    sweep(engine, T0 + timedelta(minutes=2), dead_after=60)
    records.finish(engine, run_id, status=FAILED, now=T0 + timedelta(minutes=3), error_type="ValueError")
    assert records.get_run(engine, run_id)["status"] == FAILED


def test_the_sweep_command_uses_luigi_cfg(engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    import luigi

    run_id = new_run(engine, now=datetime.now(UTC) - timedelta(minutes=10))
    config = luigi.configuration.get_config()
    monkeypatch.setattr(config, "get", lambda section, key, default=None: (
        str(engine.url) if (section, key) == ("task_history", "db_connection") else default))
    assert sweep_main(["--dead-after", "60"]) == 0
    assert capsys.readouterr().out == f"marked 1 run(s) killed: {run_id}\n"
    assert records.get_run(engine, run_id)["status"] == KILLED


def test_log_lines_after_n_come_in_seq_order(engine: Engine) -> None:
    run_id, other = new_run(engine), new_run(engine, "other")
    t = T0.timestamp()
    LogRows(engine, run_id).insert([(seq, t + seq, "INFO", "x", f"line {seq}") for seq in (3, 1, 2, 5, 4)])
    LogRows(engine, other).insert([(1, t, "INFO", "x", "not mine")])

    lines = records.log_lines_after(engine, run_id, after=2)

    assert [line["message"] for line in lines] == ["line 3", "line 4", "line 5"]
    assert lines[0]["ts"] == T0 + timedelta(seconds=3)  # stored by the fast path, read back as aware UTC
    assert [x["seq"] for x in records.log_lines_after(engine, run_id, after=0, limit=2)] == [1, 2]


def query_plan(engine: Engine, query: sa.sql.Select) -> str:
    sql = str(query.compile(engine, compile_kwargs={"literal_binds": True}))
    with engine.connect() as conn:
        return " | ".join(row[-1] for row in conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))


def test_the_monitor_reads_are_served_by_indexes(engine: Engine) -> None:
    after_n = (sa.select(run_logs).where(run_logs.c.run_id == 7, run_logs.c.seq > 100)
               .order_by(run_logs.c.seq).limit(500))
    of_family = sa.select(runs).where(runs.c.family == "FetchPages").order_by(runs.c.started_at.desc()).limit(50)
    of_task = sa.select(runs).where(runs.c.task_id == "x").order_by(runs.c.started_at.desc())

    assert "USING INDEX sqlite_autoindex_crawl_run_logs_1 (run_id=? AND seq>?)" in query_plan(engine, after_n)
    assert "USING INDEX ix_crawl_runs_family_started (family=?)" in query_plan(engine, of_family)
    assert "USING INDEX ix_crawl_runs_task_status (task_id=?)" in query_plan(engine, of_task)
    for plan in (query_plan(engine, q) for q in (after_n, of_family, of_task)):
        assert "TEMP B-TREE" not in plan  # no sort: the index gives the order


def test_the_tick_counts_read_only_the_runs_not_done_and_their_ticks_from_the_index(engine: Engine) -> None:
    since, until = T0 - timedelta(days=90), T0
    not_done = sa.select(runs.c.crawl, runs.c.task_id, runs.c.family).where(
        runs.c.crawl.in_(["shop", "news"]), runs.c.family.in_(["FetchPages", "StoreItems"]),
        runs.c.status.in_([RUNNING, FAILED, KILLED]), runs.c.started_at >= since, runs.c.started_at < until)
    of_ticks = sa.select(runs.c.id, runs.c.task_id, runs.c.status, runs.c.started_at).where(
        runs.c.task_id.in_(["FetchPages_shop_1", "StoreItems_shop_1"]))
    of_crawl_family = (sa.select(runs).where(runs.c.crawl == "shop", runs.c.family == "StoreItems")
                       .order_by(runs.c.started_at.desc()).limit(50))

    # A range per crawl, status and family: only the runs that are not done, not every run of the window.
    assert ("USING INDEX ix_crawl_runs_crawl_status_family (crawl=? AND status=? AND family=? AND started_at>?"
            in query_plan(engine, not_done))
    assert "USING COVERING INDEX ix_crawl_runs_task_status (task_id=?)" in query_plan(engine, of_ticks)
    assert "TEMP B-TREE" not in query_plan(engine, of_crawl_family)  # the runs list, the crawl page's stores


def test_an_index_replaced_by_a_newer_one_is_dropped(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/old.db"
    old = sa.create_engine(url)
    runs.create(old)
    with old.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_crawl_runs_task_status")
        conn.exec_driver_sql("DROP INDEX ix_crawl_runs_crawl_status_family")
        conn.exec_driver_sql("CREATE INDEX ix_crawl_runs_task_started ON crawl_runs (task_id, started_at)")
        conn.exec_driver_sql(
            "CREATE INDEX ix_crawl_runs_crawl_family_started ON crawl_runs (crawl, family, started_at, status)")

    records.create_tables(records.new_engine(url))

    names = {ix["name"] for ix in sa.inspect(old).get_indexes("crawl_runs")}
    assert {"ix_crawl_runs_task_status", "ix_crawl_runs_crawl_status_family"} <= names
    assert not names & {"ix_crawl_runs_task_started", "ix_crawl_runs_crawl_family_started"}


@pytest.mark.postgres
def test_records_and_log_rows_work_on_postgresql(postgres_url: str) -> None:
    round_trip(records.engine_for(postgres_url))


@pytest.mark.mariadb
def test_records_and_log_rows_work_on_mariadb(mariadb_url: str) -> None:
    # UTCDateTime is DATETIME(6) on MySQL/MariaDB: microseconds survive there too.
    round_trip(records.engine_for(mariadb_url))


def round_trip(engine: Engine) -> None:
    """Create, log (each backend's insert path), finish, sweep, read back: what a worker does on that DB."""
    superseded_index_dropped(engine)
    run_id = new_run(engine, host="db-test", now=T0)
    t = T0.timestamp()
    long_logger = "x" * 300  # longer than the column: cut, not refused
    LogRows(engine, run_id).insert([(seq, t + seq / 1000, "STDOUT", long_logger if seq == 2 else "print",
                                     f"line {seq} é <b>") for seq in range(1, 1201)])
    lines = records.log_lines_after(engine, run_id, after=1198)
    assert [(x["seq"], x["message"]) for x in lines] == [(1199, "line 1199 é <b>"), (1200, "line 1200 é <b>")]
    assert lines[0]["ts"] == T0 + timedelta(seconds=1.199)
    assert len(records.log_lines_after(engine, run_id, after=1, limit=1)[0]["logger"]) == 200
    assert sweep(engine, T0 + timedelta(minutes=5), dead_after=60, host="db-test") == [run_id]
    records.finish(engine, run_id, status=DONE, now=T0 + timedelta(minutes=6), stats='{"fetched": 1}',
                   log_lines=1200)
    run = records.get_run(engine, run_id)
    assert (run["status"], run["log_lines"], run["finished_at"]) == (DONE, 1200, T0 + timedelta(minutes=6))


def superseded_index_dropped(engine: Engine) -> None:
    """An index of an earlier release that a newer one replaces goes when the worker creates its tables."""
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE INDEX ix_crawl_runs_task_started ON crawl_runs (task_id, started_at)")
    records.create_tables(engine)
    assert "ix_crawl_runs_task_started" not in {ix["name"] for ix in sa.inspect(engine).get_indexes("crawl_runs")}
