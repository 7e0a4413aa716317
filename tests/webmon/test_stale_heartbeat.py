"""A running record whose heartbeat stopped: the run page and the runs list say the worker may have died.

The threshold comes from luigi.cfg [runs] (2 x heartbeat_seconds, at most
dead_after_seconds: 20 s with the shipped file) unless WEBMON_STALE_AFTER_S
says otherwise.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import time_machine
from django.conf import settings
from django.test import Client
from django.utils import timezone
from history_seed import HistorySeed
from webmon_support import Manage

PRINT = "from django.conf import settings; print(settings.WEBMON_STALE_AFTER_S)"


def running(history: HistorySeed, silent: float) -> int:
    now = timezone.now()
    return history.run(crawl="demo", family="FetchPages", status="running", started_at=now - timedelta(minutes=5),
                       heartbeat_at=now - timedelta(seconds=silent))


def test_the_run_page_warns_when_a_running_record_has_no_heartbeat_for_two_beats(
        client: Client, history: HistorySeed) -> None:
    with time_machine.travel(timezone.now(), tick=False):
        run_id = running(history, silent=65)
        body = client.get(f"/runs/{run_id}/").content.decode()
    assert 'id="run-silent"' in body
    assert "No heartbeat for 65 s: the worker may have died." in body
    assert 'data-status="stale"' in body


def test_a_run_that_beat_a_moment_ago_gets_no_warning(client: Client, history: HistorySeed) -> None:
    with time_machine.travel(timezone.now(), tick=False):
        run_id = running(history, silent=5)
        body = client.get(f"/runs/{run_id}/").content.decode()
    assert 'id="run-silent"' not in body
    assert "may have died" not in body
    assert 'data-status="running"' in body


def test_the_runs_list_warns_on_the_silent_run_only(client: Client, history: HistorySeed) -> None:
    with time_machine.travel(timezone.now(), tick=False):
        silent, beating = running(history, silent=42), running(history, silent=3)
        body = client.get("/runs/?status=running").content.decode()
    rows = {int(part.split('"', 1)[0]): part for part in body.split('data-run-id="')[1:]}
    assert "no heartbeat for 42 s: the worker may have died" in rows[silent].split("</tr>")[0]
    assert "may have died" not in rows[beating].split("</tr>")[0]


def test_the_threshold_is_two_heartbeats_from_luigi_cfg() -> None:
    # the shipped luigi.cfg: heartbeat_seconds = 10, dead_after_seconds = 60
    assert settings.WEBMON_STALE_AFTER_S == 20


def test_the_threshold_follows_luigi_cfg_and_the_environment_wins(manage: Manage, tmp_path: Path) -> None:
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text("[task_history]\ndb_connection = sqlite:///x.db\n[runs]\nheartbeat_seconds = 30\n"
                   "dead_after_seconds = 45\n")
    from_cfg = manage("shell", "-c", PRINT, env={"LUIGI_CONFIG_PATH": str(cfg), "WEBMON_STALE_AFTER_S": None})
    assert from_cfg.stdout.split()[-1] == "45", from_cfg.stderr  # 2 x 30 is past dead_after: the sweep's limit
    from_env = manage("shell", "-c", PRINT, env={"LUIGI_CONFIG_PATH": str(cfg), "WEBMON_STALE_AFTER_S": "300"})
    assert from_env.stdout.split()[-1] == "300", from_env.stderr


def test_a_broken_runs_section_stops_the_start_with_a_sentence(manage: Manage, tmp_path: Path) -> None:
    cfg = tmp_path / "luigi.cfg"
    cfg.write_text("[task_history]\ndb_connection = sqlite:///x.db\n[runs]\nheartbeat_seconds = often\n")
    result = manage("check", env={"LUIGI_CONFIG_PATH": str(cfg), "WEBMON_STALE_AFTER_S": None})
    assert result.returncode != 0
    assert "luigi.cfg [runs]: heartbeat_seconds and dead_after_seconds must be numbers of seconds" in result.stderr
