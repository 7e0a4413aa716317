"""`promtool check metrics` on real scrapes of /metrics: a full world, and one with every part down."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import time_machine
from django.test import Client, override_settings
from history_seed import HistorySeed

from tests.metrics.conftest import FakeLuigid
from tests.metrics.world import T0, scrape, seed_history, seed_schedules

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
pytestmark = pytest.mark.prometheus


def promtool_check(text: str) -> subprocess.CompletedProcess[str]:
    if not Path(PROMTOOL).exists():
        pytest.skip("promtool is not installed")
    return subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True, timeout=30)


def test_promtool_passes_a_scrape_of_a_full_world(fresh: None, history: HistorySeed, fake_luigid: FakeLuigid,
                                                  anonymous: Client) -> None:
    seed_history(history)
    seed_schedules()
    fake_luigid.counts = {"RUNNING": 3, "PENDING": 0}
    with time_machine.travel(T0 + timedelta(minutes=1), tick=False), override_settings(LUIGID_URL=fake_luigid.url):
        text = scrape(anonymous)
    assert "crawl_luigid_tasks" in text and "crawl_fetch_failures_total" in text

    checked = promtool_check(text)

    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""


def test_promtool_passes_a_scrape_with_every_part_down(fresh: None, history_at, tmp_path: Path,
                                                       anonymous: Client) -> None:
    with history_at(str(tmp_path / "missing.db")), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        text = scrape(anonymous)

    checked = promtool_check(text)

    assert checked.returncode == 0, checked.stdout + checked.stderr
