"""Run records and run logs, written by real luigi CLI workers against a real luigid.

The tasks are in tests/runs/run_tasks.py: Chatty logs through its own
logger, urllib3's and luigi's, prints to stdout and stderr, warns, leaks
secrets, and may fail with a chained exception; Sleepy sleeps until it is
SIGKILLed; LogMany logs N lines.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pipelines.runs.models import DONE, FAILED, KILLED, RUNNING
from tests.conftest import PYTHON, ROOT, Luigid
from tests.runs.run_tasks import SECRET
from tests.runs.support import log_of, one_run, run_task, runs_where, start_task, task_list, wait_for

ENV_SECRET = "svc-token-0123456789"


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("out")


@pytest.fixture(scope="module")
def failed(luigid: Luigid, out_dir: Path) -> dict[str, Any]:
    """One failing Chatty run: its CLI result, record and log lines."""
    result = run_task(luigid, "Chatty", "--name", "boom", "--out-dir", str(out_dir), "--fail",
                      "--api-token", "param-secret-42", env={"CHATTY_SERVICE_TOKEN": ENV_SECRET})
    assert result.returncode == 30, result.stderr[-3000:]  # [retcode] task_failed
    run = one_run(luigid, family="Chatty", name="boom")
    return {"result": result, "run": run, "lines": log_of(luigid, run["id"])}


@pytest.fixture(scope="module")
def succeeded(luigid: Luigid, out_dir: Path) -> dict[str, Any]:
    result = run_task(luigid, "Chatty", "--name", "fine", "--out-dir", str(out_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    run = one_run(luigid, family="Chatty", name="fine")
    return {"result": result, "run": run, "lines": log_of(luigid, run["id"])}


def test_a_failed_task_records_the_exception_type_message_and_whole_traceback(failed: dict[str, Any]) -> None:
    run = failed["run"]
    assert run["status"] == FAILED
    assert run["error_type"] == "tests.runs.run_tasks.ChattyError"
    assert run["error_message"] == "chatty boom could not load its page (token=***)"
    traceback = run["traceback"]
    assert traceback.startswith("Traceback (most recent call last):")
    # the cause, the chain sentence, every frame down to the raise, and the last line
    for part in ('{}["missing"]', "KeyError: 'missing'", "The above exception was the direct cause",
                 "luigi/worker.py", "in run\n", "_load(self.name)", "in _load\n",
                 "tests.runs.run_tasks.ChattyError: chatty boom could not load its page (token=***)"):
        assert part in traceback, part
    assert run["finished_at"] >= run["started_at"]
    assert run["stats"] is None  # run() never reached its end


def test_a_done_task_records_its_stats_and_no_error(succeeded: dict[str, Any]) -> None:
    run = succeeded["run"]
    assert (run["status"], run["error_type"], run["error_message"], run["traceback"]) == (DONE, None, None, None)
    assert json.loads(run["stats"]) == {"name": "fine", "steps": 3}
    assert run["attempt"] == 1
    assert run["pid"] > 0 and run["host"] and run["worker"].startswith("Worker(")
    assert json.loads(run["params"])["name"] == "fine"


def test_log_lines_arrive_in_order_from_every_logger_print_and_warnings(succeeded: dict[str, Any]) -> None:
    lines = succeeded["lines"]
    assert [line["seq"] for line in lines] == list(range(1, len(lines) + 1))
    got = [(line["level"], line["logger"], line["message"]) for line in lines]
    expected = [
        ("INFO", "tests.runs.chatty", "chatty fine: step 1 of 3"),
        ("WARNING", "urllib3.connectionpool",
         "Retrying (Retry(total=2)) after connection broken by 'ConnectionResetError': /page"),
        ("INFO", "urllib3.connectionpool", "Starting new HTTP connection (1): 127.0.0.1:9"),
        ("STDOUT", "stdout", "chatty fine: printed to stdout"),
        ("STDERR", "stderr", "chatty fine: printed to stderr"),
    ]
    start = got.index(expected[0])
    assert got[start:start + len(expected)] == expected
    assert got[0][1] == "luigi-interface" and " running " in got[0][2]
    assert got[-1][1] == "luigi-interface" and " done " in got[-1][2]
    warning = [m for level, _, m in got if level == "STDERR" and "UserWarning" in m]
    assert warning and "chatty fine: unverified HTTPS request" in warning[0]
    assert ("INFO", "tests.runs.chatty", "<b>markup stays as it is</b> & so do ampersands") in got
    assert got.index(("INFO", "tests.runs.chatty", "chatty fine: step 2 of 3")) > start
    assert succeeded["run"]["log_lines"] == len(lines) and not succeeded["run"]["log_truncated"]
    times = [line["ts"] for line in lines]
    assert times == sorted(times) and times[0].tzinfo is not None


def test_printed_and_logged_lines_still_reach_the_console(succeeded: dict[str, Any]) -> None:
    result = succeeded["result"]
    assert "chatty fine: printed to stdout" in result.stdout
    assert "chatty fine: printed to stderr" in result.stderr
    assert result.stderr.count("chatty fine: step 1 of 3") == 1  # echoed once, not through the tee again


def test_the_failure_log_holds_luigis_error_line_with_the_traceback(failed: dict[str, Any]) -> None:
    last = failed["lines"][-1]
    assert (last["level"], last["logger"]) == ("ERROR", "luigi-interface")
    assert " failed " in last["message"] and "ChattyError: chatty boom" in last["message"]


def test_secrets_are_masked_in_the_db(failed: dict[str, Any]) -> None:
    stored = "\n".join(line["message"] for line in failed["lines"])
    run = failed["run"]
    everything = "\n".join([stored, run["params"], run["error_message"], run["traceback"]])
    for secret in (SECRET, "tok-boom", "pw-boom", "tk-boom", ENV_SECRET, "param-secret-42"):
        assert secret not in everything, secret
    assert "via http://crawler:***@proxy.local:3128 with Authorization: Bearer ***" in stored
    assert "settings {'db_password': '***', 'timeout': 5}" in stored
    assert "a bare secret from the environment: ***" in stored
    assert json.loads(run["params"])["api_token"] == "***"
    # the console is the task's own business: capture masks what it stores, not what it prints
    assert ENV_SECRET in failed["result"].stderr


def test_json_lines_carry_task_and_run_ids_and_are_masked(luigid: Luigid, failed: dict[str, Any]) -> None:
    run = failed["run"]
    records = [json.loads(line) for line in (luigid.home / "tasks.jsonl").read_text().splitlines()]
    ours = [r for r in records if r["run_id"] == run["id"]]
    assert [r["message"] for r in ours] == [line["message"] for line in failed["lines"]]
    first = ours[0]
    assert set(first) == {"ts", "level", "logger", "message", "task_id", "run_id", "family", "host", "pid"}
    assert (first["task_id"], first["family"], first["pid"]) == (run["task_id"], "Chatty", run["pid"])
    assert first["ts"].endswith("Z")
    assert SECRET not in json.dumps(ours)


def test_a_rerun_of_the_same_task_gets_the_next_attempt(luigid: Luigid, failed: dict[str, Any],
                                                        out_dir: Path) -> None:
    again = run_task(luigid, "Chatty", "--name", "boom", "--out-dir", str(out_dir), "--fail",
                     "--api-token", "param-secret-42")
    assert again.returncode == 30
    attempts = runs_where(luigid, task_id=failed["run"]["task_id"])
    assert [(r["attempt"], r["status"]) for r in attempts] == [(1, FAILED), (2, FAILED)]
    assert attempts[1]["id"] > attempts[0]["id"]


def test_the_tracking_url_in_luigid_points_at_the_runs_page(luigid: Luigid, succeeded: dict[str, Any]) -> None:
    tasks = task_list(luigid, "DONE", "Chatty")
    task = tasks[succeeded["run"]["task_id"]]
    assert task["tracking_url"] == f"http://127.0.0.1:8000/runs/{succeeded['run']['id']}/"


def test_two_workers_on_one_luigid_write_separate_correct_records(luigid: Luigid, out_dir: Path) -> None:
    workers = {name: start_task(luigid, "LogMany", "--name", name, "--out-dir", str(out_dir), "--lines", "300")
               for name in ("left", "right")}
    for worker in workers.values():
        worker.communicate(timeout=120)
        assert worker.returncode == 0
    for name, worker in workers.items():
        run = one_run(luigid, family="LogMany", name=name)
        assert (run["status"], run["pid"]) == (DONE, worker.pid)
        ours = [line["message"] for line in log_of(luigid, run["id"]) if line["logger"] == "tests.runs.chatty"]
        assert ours == [f"line {i} of 300" for i in range(1, 301)]
        assert run["log_lines"] == 302  # and luigi's running and done lines
    assert len({one_run(luigid, family="LogMany", name=n)["worker"] for n in workers}) == 2


def test_the_log_is_capped_with_a_visible_truncated_line(luigid: Luigid, out_dir: Path) -> None:
    result = run_task(luigid, "LogMany", "--name", "capped", "--out-dir", str(out_dir), "--lines", "120",
                      "--runs-log-max-lines", "50", "--runs-log-batch-lines", "7")
    assert result.returncode == 0, result.stderr[-3000:]
    run = one_run(luigid, family="LogMany", name="capped")
    lines = log_of(luigid, run["id"])
    assert [line["seq"] for line in lines] == list(range(1, 52))
    assert lines[-1]["message"] == "... truncated: 72 more lines not stored"  # 120 + luigi's 2 lines - 50
    assert lines[-1]["level"] == "WARNING"
    assert lines[-2]["message"] == "line 49 of 120"
    assert (run["log_lines"], bool(run["log_truncated"])) == (51, True)


def test_a_sigkilled_worker_ends_marked_killed_not_running(luigid: Luigid, out_dir: Path) -> None:
    worker = start_task(luigid, "Sleepy", "--name", "victim", "--out-dir", str(out_dir), "--seconds", "120")
    try:
        run = wait_for(lambda: runs_where(luigid, family="Sleepy", name="victim"), message="a running record")[0]
        assert (run["status"], run["pid"]) == (RUNNING, worker.pid)
        wait_for(lambda: any("going to sleep" in line["message"] for line in log_of(luigid, run["id"])),
                 message="the log line before the sleep")
    finally:
        os.kill(worker.pid, signal.SIGKILL)
        worker.communicate(timeout=30)  # reaped: the pid is gone, not a zombie
    assert one_run(luigid, family="Sleepy", name="victim")["status"] == RUNNING  # nobody has looked yet

    sweep = subprocess.run([PYTHON, "-m", "pipelines.runs.sweep"], cwd=ROOT, env=luigid.env(),
                           capture_output=True, text=True, timeout=60)
    assert sweep.returncode == 0, sweep.stderr
    assert f"marked 1 run(s) killed: {run['id']}" in sweep.stdout
    killed = one_run(luigid, family="Sleepy", name="victim")
    assert killed["status"] == KILLED
    assert killed["finished_at"] == killed["heartbeat_at"]
    assert f"process {worker.pid} on" in killed["error_message"]


def test_a_broken_history_db_does_not_fail_the_task(luigid: Luigid, tmp_path: Path) -> None:
    # A local scheduler and a history DB that cannot be opened: the task must still run and succeed.
    config = tmp_path / "luigi.cfg"
    config.write_text(luigid.config.read_text().replace(
        f"db_connection = {luigid.history_url}", "db_connection = sqlite:////nonexistent/dir/history.db"))
    env = {**luigid.env(), "LUIGI_CONFIG_PATH": str(config)}
    result = subprocess.run([PYTHON, "-m", "luigi", "--module", "tests.runs.run_tasks", "Chatty", "--local-scheduler",
                             "--name", "no-db", "--out-dir", str(tmp_path)], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (tmp_path / "no-db.txt").read_text() == "done\n"
    assert "crawlops.runs: no run record for Chatty" in result.stderr


def test_a_task_in_luigis_multiprocessing_mode_gets_its_record_and_log(luigid: Luigid, out_dir: Path) -> None:
    # --workers 2: luigi forks a process per task; the record is that process's, the log still whole.
    result = run_task(luigid, "LogMany", "--name", "forked", "--out-dir", str(out_dir), "--lines", "40",
                      "--workers", "2")
    assert result.returncode == 0, result.stderr[-3000:]
    run = one_run(luigid, family="LogMany", name="forked")
    assert run["status"] == DONE
    assert f"[pid {run['pid']}]" in log_of(luigid, run["id"])[0]["message"]  # luigi's "running" line, same pid
    assert [m["message"] for m in log_of(luigid, run["id"])[1:-1]] == [f"line {i} of 40" for i in range(1, 41)]
