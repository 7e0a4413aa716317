"""scheduler.sh as a user runs it, in a copy of the repository."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A copy of the working tree without .venv and var/, sharing this test run's venv."""
    dest = tmp_path_factory.mktemp("checkout") / "crawlops"
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", ".pytest_cache"))
    yield dest
    sh(dest, "down")


def sh(checkout: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("LUIGI_CONFIG_PATH",) and not k.startswith("CRAWL_")}
    env.update(
        CRAWLOPS_VENV=str(Path(sys.executable).parent.parent),
        LUIGID_PORT=os.environ.setdefault("_TEST_LUIGID_PORT", str(free_port())),
        DEMO_SITE_PORT=os.environ.setdefault("_TEST_DEMO_PORT", str(free_port())),
        WEBMON_PORT=os.environ.setdefault("_TEST_WEBMON_PORT", str(free_port())),
        DEMO_SITE_PRODUCTS="60",
    )
    return subprocess.run([str(checkout / "scheduler.sh"), *args], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=timeout)


def pids(checkout: Path) -> dict[str, str]:
    return {p.stem: p.read_text().strip() for p in (checkout / "var" / "run").glob("*.pid")}


def alive(pid: str) -> bool:
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    return True


def test_up_starts_everything_and_runs_the_demo_crawl(checkout: Path) -> None:
    result = sh(checkout, "up")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "crawlops is up." in result.stdout
    assert f"http://127.0.0.1:{os.environ['_TEST_LUIGID_PORT']}/" in result.stdout
    assert f"http://127.0.0.1:{os.environ['_TEST_WEBMON_PORT']}/" in result.stdout
    assert "created user admin with password" in result.stdout
    with urllib.request.urlopen(f"http://127.0.0.1:{os.environ['_TEST_WEBMON_PORT']}/healthz", timeout=10) as health:
        assert health.status == 200
    with sqlite3.connect(checkout / "var" / "items.db") as db:
        assert db.execute("SELECT COUNT(*) FROM crawl_items WHERE crawl = 'demo'").fetchone()[0] == 60
    with sqlite3.connect(checkout / "var" / "history.db") as db:
        names = {r[0] for r in db.execute("SELECT name FROM tasks")}
    assert names == {"FetchPages", "ParsePages", "StoreItems", "RunCrawl"}
    with sqlite3.connect(checkout / "var" / "webmon.db") as db:
        schedules = db.execute("SELECT name, task, cron FROM scheduling_schedule ORDER BY name").fetchall()
        assert schedules == [("backup-history", "BackupDatabase", "0 2 * * *"),
                             ("backup-items", "BackupDatabase", "0 2 * * *"),
                             ("backup-webmon", "BackupDatabase", "0 2 * * *"),
                             ("demo", "RunCrawl", "*/15 * * * *"),
                             ("prune-history", "PruneHistory", "0 3 * * 0")]
        assert db.execute("SELECT COUNT(*) FROM scheduling_daemonheartbeat").fetchone()[0] == 1  # the daemon beats


def test_up_twice_starts_nothing_twice(checkout: Path) -> None:
    before = pids(checkout)
    assert set(before) == {"luigid", "demo-site", "webmon", "trigger"}
    result = sh(checkout, "up")
    assert result.returncode == 0, result.stderr[-3000:]
    assert "luigid already running" in result.stdout and "demo-site already running" in result.stdout
    assert "webmon already running" in result.stdout and "trigger already running" in result.stdout
    assert "password" not in result.stdout  # printed once, on the first start only
    assert pids(checkout) == before


def test_status_and_crawl(checkout: Path) -> None:
    status = sh(checkout, "status")
    assert status.returncode == 0
    assert "luigid: running" in status.stdout and "demo-site: running" in status.stdout
    assert "webmon: running" in status.stdout and "trigger: running" in status.stdout
    crawl = sh(checkout, "crawl", "demo", "--at", "2026-01-01T00:00")
    assert crawl.returncode == 0, crawl.stderr[-3000:]
    assert (checkout / "var" / "data" / "demo" / "20260101T0000Z" / "fetch" / "stats.json").exists()
    unknown = sh(checkout, "crawl", "nosuchcrawl")
    assert unknown.returncode != 0
    assert "no crawl spec named 'nosuchcrawl'" in unknown.stderr


@pytest.mark.parametrize("args", [(), ("bogus",), ("crawl",), ("crawl", "demo", "--at"), ("down", "extra")])
def test_bad_arguments_print_usage_and_fail(checkout: Path, args: tuple[str, ...]) -> None:
    result = sh(checkout, *args)
    assert result.returncode == 2
    assert "./scheduler.sh up" in result.stderr


def test_down_stops_only_what_up_started(checkout: Path) -> None:
    started = pids(checkout)
    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        result = sh(checkout, "down")
        assert result.returncode == 0
        assert not any(alive(pid) for pid in started.values())
        assert bystander.poll() is None
        assert pids(checkout) == {}
        assert "luigid: stopped" in sh(checkout, "status").stdout
    finally:
        bystander.kill()
