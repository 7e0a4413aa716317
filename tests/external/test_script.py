"""PythonScript through a real luigid and the luigi CLI: outcome, output, live logs, timeouts, signals."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path

import pytest

from pipelines.demo.site import product
from pipelines.external.child import MAX_LINE_BYTES
from tests.conftest import ROOT, Luigid, make_luigid, start_demo_site, stop
from tests.external.support import AT, TOOL, gone, messages, read_pids, record, run, script, start
from tests.runs.support import runs_where, wait_for

TICK = "20261121T0730Z"


def tick_dir(luigid: Luigid, name: str) -> Path:
    return luigid.data_dir / "external" / name / TICK


def test_a_script_that_exits_0_is_done_and_its_files_become_the_ticks_output(luigid: Luigid, tmp_path: Path) -> None:
    done = script(luigid, "rows", "output", str(tmp_path / "counter"))

    assert done.returncode == 0, done.stderr[-3000:]
    row = record(luigid, "PythonScript", "rows")
    assert row["status"] == "done" and row["error_type"] is None
    stats = json.loads(row["stats"])
    assert stats["exit_code"] == 0 and stats["reported"] == {"rows": 2} and stats["files"] == 1
    assert (tick_dir(luigid, "rows") / "rows.jsonl").read_text() == '{"n": 1}\n{"n": 2}\n'
    assert json.loads((tick_dir(luigid, "rows") / "result.json").read_text())["exit_code"] == 0
    assert "wrote 2 rows for 2026-11-21T07:30Z" in messages(luigid, row["id"])


def test_a_rerun_of_a_complete_tick_does_nothing(luigid: Luigid, tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    assert script(luigid, "twice", "output", str(counter)).returncode == 0

    again = script(luigid, "twice", "output", str(counter))

    assert again.returncode == 0, again.stderr[-3000:]
    assert counter.read_text() == "ran\n"  # the script ran once
    assert len(runs_where(luigid, family="PythonScript", name="twice")) == 1


def test_a_failing_script_fails_with_its_exit_code_and_last_stderr_lines(luigid: Luigid) -> None:
    failed = script(luigid, "failing", "fail", "3")

    assert failed.returncode == 30, failed.stderr[-3000:]
    row = record(luigid, "PythonScript", "failing")
    assert row["status"] == "failed"
    assert row["error_type"] == "pipelines.external.exceptions.ChildFailed"
    assert "exited with code 3" in row["error_message"]
    assert "ERROR: the site said no | Traceback: boom" in row["error_message"]
    assert json.loads(row["stats"])["exit_code"] == 3
    assert not tick_dir(luigid, "failing").exists()  # a failed run leaves no output
    log = messages(luigid, row["id"])
    assert "about to fail" in log and "ERROR: the site said no" in log


def test_log_lines_reach_the_run_record_while_the_script_still_runs(luigid: Luigid, tmp_path: Path) -> None:
    flag = tmp_path / "go-on"
    worker = start(luigid, "PythonScript", "--path", str(TOOL), "--args", json.dumps(["wait", str(flag)]),
                   "--name", "slow", "--at", AT)
    try:
        row = wait_for(lambda: runs_where(luigid, family="PythonScript", name="slow"), 60, "a run record")[0]
        wait_for(lambda: "still working" in messages(luigid, row["id"]), 60, "the script's second line in the DB")

        assert record(luigid, "PythonScript", "slow")["status"] == "running"
        assert worker.poll() is None
        assert "finished" not in messages(luigid, row["id"])
    finally:
        flag.touch()
        worker.wait(120)
    assert worker.returncode == 0, worker.stderr.read()[-3000:]
    assert record(luigid, "PythonScript", "slow")["status"] == "done"
    assert "finished" in messages(luigid, row["id"])


def test_a_timeout_stops_the_whole_process_group_and_fails_the_task(luigid: Luigid, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"

    timed_out = script(luigid, "sleepy", "spawn", str(pidfile), extra=("--timeout-seconds", "3", "--grace-seconds", "1"))

    assert timed_out.returncode == 30, timed_out.stderr[-3000:]
    row = record(luigid, "PythonScript", "sleepy")
    assert row["status"] == "failed" and row["error_type"] == "pipelines.external.exceptions.ChildTimedOut"
    assert "timed out after 3 s" in row["error_message"]
    assert gone(read_pids(pidfile)), "the script or its grandchild outlived the timeout"


def test_sigterm_to_the_workers_group_stops_the_script_and_its_children(luigid: Luigid, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    worker = start(luigid, "PythonScript", "--path", str(TOOL), "--args", json.dumps(["spawn", str(pidfile)]),
                   "--name", "termed", "--at", AT)
    pids = read_pids(pidfile)

    os.killpg(worker.pid, signal.SIGTERM)  # what the trigger daemon's timeout does
    worker.wait(60)

    assert gone(pids), "the script or its grandchild outlived the worker"
    row = wait_for(lambda: [r for r in runs_where(luigid, family="PythonScript", name="termed")
                            if r["status"] != "running"], 30, "the run's end")[0]
    assert row["status"] == "failed", row
    assert "the worker got SIGTERM" in row["error_message"]


def test_a_hard_killed_worker_leaves_no_orphan(luigid: Luigid, tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    worker = start(luigid, "PythonScript", "--path", str(TOOL), "--args", json.dumps(["spawn", str(pidfile)]),
                   "--name", "orphan", "--at", AT)
    pids = read_pids(pidfile)

    os.kill(worker.pid, signal.SIGKILL)  # the worker alone: no handler of ours runs
    worker.wait(30)

    assert gone(pids), "the script or its grandchild outlived a SIGKILLed worker"
    assert not tick_dir(luigid, "orphan").exists()


def test_hostile_lines_are_stored_safely(luigid: Luigid) -> None:
    done = script(luigid, "hostile", "hostile")

    assert done.returncode == 0, done.stderr[-3000:]
    log = messages(luigid, record(luigid, "PythonScript", "hostile")["id"])
    assert "<script>alert('x')</script><b>bold</b>" in log  # stored as text; webmon's templates escape it
    huge = next(line for line in log if line.startswith("AAAA"))
    kept = MAX_LINE_BYTES
    assert huge == "A" * kept + f" ... [line cut: {2 * 1024 * 1024 + len(' END') - kept:,} more bytes not stored]"
    assert "bad bytes \ufffd\ufffd\ufffd( here" in log
    assert "nul \ufffd inside" in log
    assert "login password=*** ok" in log and not any("hunter2" in line for line in log)
    assert log.index("last line") > log.index("nul \ufffd inside")


def test_the_example_requests_script_lists_the_demo_sites_books(luigid: Luigid) -> None:
    site = start_demo_site(30)
    try:
        done = run(luigid, "PythonScript", "--path", str(ROOT / "examples/requests_script/fetch_books.py"),
                   "--args", json.dumps(["--site", site.url, "--pages", "2"]), "--at", AT)
    finally:
        stop(site.proc)

    assert done.returncode == 0, done.stderr[-3000:]
    lines = (tick_dir(luigid, "fetch_books") / "books.jsonl").read_text(encoding="utf-8").splitlines()
    books = [json.loads(line) for line in lines]
    assert [b["title"] for b in books] == [product(pid)["title"] for pid in range(1, 31)]
    row = record(luigid, "PythonScript", "")
    assert json.loads(row["stats"])["reported"] == {"pages": 2, "books": 30}
    assert "done: 30 books from 2 pages" in messages(luigid, row["id"])


@pytest.mark.postgres
def test_hostile_lines_are_stored_in_a_postgresql_history_too(tmp_path_factory: pytest.TempPathFactory,
                                                              postgres_url: str) -> None:
    server = make_luigid(tmp_path_factory.mktemp("pg-history"), history_url=postgres_url)
    server.start()
    try:
        done = script(server, "hostile", "hostile")

        assert done.returncode == 0, done.stderr[-3000:]
        log = messages(server, record(server, "PythonScript", "hostile")["id"])
        assert "nul \ufffd inside" in log and "bad bytes \ufffd\ufffd\ufffd( here" in log  # PostgreSQL refuses NUL
        assert "last line" in log
    finally:
        server.stop()


def test_a_missing_script_fails_with_a_sentence(luigid: Luigid, tmp_path: Path) -> None:
    missing = run(luigid, "PythonScript", "--path", str(tmp_path / "nope.py"), "--name", "missing", "--at", AT)

    assert missing.returncode == 30
    row = record(luigid, "PythonScript", "missing")
    assert row["error_message"] == f"no script at {tmp_path / 'nope.py'}"


@pytest.mark.parametrize("bad", ["../up", "a b"])
def test_a_name_that_cannot_be_a_folder_is_refused(luigid: Luigid, bad: str) -> None:
    refused = script(luigid, bad, "output", "/dev/null")

    assert refused.returncode != 0
    assert "cannot name the output folder" in refused.stderr
