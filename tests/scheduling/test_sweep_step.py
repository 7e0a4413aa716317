"""The trigger daemon's sweep step: dead attempts marked killed, and no crash on any history DB.

Run records here are written with pipelines/runs/records.py as a worker
writes them; the end-to-end case (a real worker SIGKILLed under a real
daemon) is tests/scheduling/test_dead_worker_e2e.py.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.runs import records
from pipelines.runs.models import KILLED, RUNNING
from pipelines.runs.sweep import HistorySweeper
from webmon.scheduling.daemon import Trigger

HOST = socket.gethostname()


def dead_pid() -> int:
    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid  # reaped: no process has it (until the kernel reuses it, far later)


def daemon(url: str, tmp_path: Path) -> Trigger:
    return Trigger(name=f"{HOST}:sweep-test", output_dir=tmp_path / "out", sweeper=HistorySweeper(url))


def test_the_step_marks_a_run_of_a_gone_process_on_this_host_killed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    engine = records.engine_for(url)
    now = datetime.now(UTC)
    gone = records.create_run(engine, task_id="FetchPages_a", family="FetchPages", crawl="a", params="{}",
                              host=HOST, pid=dead_pid(), worker="w", now=now)[0]
    alive = records.create_run(engine, task_id="FetchPages_b", family="FetchPages", crawl="b", params="{}",
                               host=HOST, pid=os.getppid(), worker="w", now=now)[0]

    assert daemon(url, tmp_path).sweep(now) is True

    assert records.get_run(engine, gone)["status"] == KILLED
    assert "is gone: the worker died" in records.get_run(engine, gone)["error_message"]
    assert records.get_run(engine, alive)["status"] == RUNNING


def test_the_step_kills_a_silent_run_of_another_host_after_dead_after(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    engine = records.engine_for(url)
    now = datetime.now(UTC)
    silent = records.create_run(engine, task_id="t", family="FetchPages", crawl="a", params="{}", host="far-away",
                                pid=1, worker="w", now=now - timedelta(seconds=61))[0]
    assert daemon(url, tmp_path).sweep(now) is True
    assert records.get_run(engine, silent)["status"] == KILLED


def test_it_sweeps_every_few_seconds_not_every_round(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/history.db"
    engine = records.engine_for(url)
    trigger = daemon(url, tmp_path)
    assert trigger.sweep(datetime.now(UTC)) is False  # nothing to do
    records.create_run(engine, task_id="t", family="F", crawl=None, params="{}", host=HOST, pid=dead_pid(),
                       worker=None, now=datetime.now(UTC))
    assert trigger.sweep(datetime.now(UTC)) is False  # within sweep_every of the last sweep
    trigger._next_sweep = 0.0  # sweep_every (5 s) has passed
    assert trigger.sweep(datetime.now(UTC)) is True


def test_a_stock_luigi_history_is_left_as_it_is(luigi_history, tmp_path: Path) -> None:
    trigger = daemon(luigi_history.url, tmp_path)
    assert trigger.sweep(datetime.now(UTC)) is False
    tables = sa.inspect(sa.create_engine(luigi_history.url)).get_table_names()
    assert "crawl_runs" not in tables and "tasks" in tables  # the daemon creates none of our tables


def test_a_history_db_that_does_not_exist_yet_is_not_created(tmp_path: Path) -> None:
    trigger = daemon(f"sqlite:///{tmp_path}/var/history.db", tmp_path)
    trigger.tick()  # a whole round, as the daemon runs it
    trigger._next_sweep = 0.0
    assert trigger.sweep(datetime.now(UTC)) is False
    assert not (tmp_path / "var" / "history.db").exists()


def test_an_unreadable_history_db_is_said_once_and_the_daemon_goes_on(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    broken = tmp_path / "history.db"
    broken.write_bytes(b"this is not a database file " * 100)
    trigger = daemon(f"sqlite:///{broken}", tmp_path)
    with caplog.at_level(logging.INFO, logger="pipelines.runs.sweep"):
        assert trigger.sweep(datetime.now(UTC)) is False
        trigger._next_sweep = 0.0
        assert trigger.sweep(datetime.now(UTC)) is False
    warnings = [r.getMessage() for r in caplog.records if r.name == "pipelines.runs.sweep"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith(f"cannot sweep the run records in sqlite:///{broken} (DatabaseError:")
    assert not [r for r in caplog.records if r.name == "webmon.scheduling"]  # no step failure, no traceback


def test_an_unreachable_server_is_a_sentence_without_its_password(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    trigger = daemon("postgresql+psycopg2://crawl:s3cret@127.0.0.1:9/history", tmp_path)
    with caplog.at_level(logging.WARNING, logger="pipelines.runs.sweep"):
        assert trigger.sweep(datetime.now(UTC)) is False
    [line] = [r.getMessage() for r in caplog.records if r.name == "pipelines.runs.sweep"]
    assert "cannot sweep the run records in postgresql+psycopg2://crawl:***@127.0.0.1:9/history" in line
    assert "s3cret" not in line


def test_a_relative_sqlite_history_is_read_from_the_workers_folder(monkeypatch: pytest.MonkeyPatch,
                                                                   tmp_path: Path) -> None:
    monkeypatch.setattr("pipelines.runs.sweep.history_url", lambda: "sqlite:///var/history.db")
    assert HistorySweeper.from_config(tmp_path).url == f"sqlite:///{tmp_path}/var/history.db"
    monkeypatch.setattr("pipelines.runs.sweep.history_url", lambda: "postgresql+psycopg2://u:pw@db/h")
    assert HistorySweeper.from_config(tmp_path).url == "postgresql+psycopg2://u:pw@db/h"
