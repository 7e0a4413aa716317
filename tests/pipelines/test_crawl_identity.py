"""A crawl is its spec's `name`: run by path or by name, it is one crawl.

`--crawl path/to/shop.toml` and `--crawl shop` are the same Luigi tasks (so
the same tick by path, then by name, runs once), the same run records, data
folder and items. The path travels as an insignificant parameter, so a worker
in another process (another cwd) that loads the task from luigid's params
reads the same file. Through the luigi CLI against a real luigid.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.exceptions import SpecError
from pipelines.tasks import FetchPages, RunCrawl
from tests.conftest import PYTHON, ROOT, DemoSite, Luigid, start_demo_site, stop

TICK = "2026-11-21T0730"
AT = dt.datetime(2026, 11, 21, 7, 30)


def query(url: str, sql: str, **params: object) -> list[tuple]:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        rows = [tuple(row) for row in conn.execute(sa.text(sql), params)]
    engine.dispose()
    return rows


def running_events(luigid: Luigid) -> int:
    return query(luigid.history_url, "SELECT COUNT(*) FROM task_events WHERE event_name = 'RUNNING'")[0][0]


def test_the_same_tick_by_path_then_by_name_runs_once(luigid: Luigid, demo_site: DemoSite) -> None:
    spec = luigid.write_spec("shop", demo_site.url, max_pages=40)
    before = running_events(luigid)
    by_path = luigid.run("RunCrawl", "--crawl", os.path.relpath(spec, ROOT), "--at", TICK)
    assert by_path.returncode == 0, by_path.stderr[-4000:]
    ran = running_events(luigid)
    assert ran == before + 4  # the four tasks of the tick
    warc = luigid.data_dir / "shop" / "20261121T0730Z" / "fetch" / "pages.warc.gz"
    written = warc.stat().st_mtime_ns

    by_name = luigid.run("RunCrawl", "--crawl", "shop", "--at", TICK)
    assert by_name.returncode == 0, by_name.stderr[-4000:]
    assert "1 complete ones were encountered" in by_name.stderr
    assert running_events(luigid) == ran
    assert warc.stat().st_mtime_ns == written

    # One crawl wherever it is named: run records, Luigi's history, data, items.
    assert query(luigid.history_url, "SELECT DISTINCT crawl FROM crawl_runs WHERE crawl LIKE '%shop%'") == [("shop",)]
    assert query(luigid.history_url, "SELECT DISTINCT value FROM task_parameters "
                                     "WHERE name = 'crawl' AND value LIKE '%shop%'") == [("shop",)]
    assert [p.name for p in luigid.data_dir.iterdir() if "shop" in p.name] == ["shop"]
    assert query(luigid.items_url, "SELECT COUNT(*) FROM crawl_markers WHERE crawl LIKE '%shop%'") == [(1,)]


@pytest.fixture(scope="module")
def slow_site() -> Iterator[DemoSite]:
    site = start_demo_site(300, latency_ms=20)  # with 2 connections: a fetch of several seconds
    yield site
    stop(site.proc)


def test_the_same_tick_by_path_and_by_name_at_once_runs_once(luigid: Luigid, slow_site: DemoSite) -> None:
    spec = luigid.write_spec("slow", slow_site.url, concurrency=2)
    tick = luigid.data_dir / "slow" / "20261121T0730Z"
    first = subprocess.Popen(
        [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", str(spec), "--at", TICK],
        cwd=ROOT, env=luigid.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not list(tick.glob("fetch.tmp-*")) and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(tick.glob("fetch.tmp-*")), "the first run's fetch never started"
    second = luigid.run("RunCrawl", "--crawl", "slow", "--at", TICK)
    first_err = first.communicate(timeout=300)[1]
    assert first.returncode == 0, first_err[-4000:]
    assert "Did not run any tasks" in second.stderr, second.stderr[-4000:]
    assert "FetchPages(crawl=slow, at=2026-11-21T0730)" in second.stderr  # seen running elsewhere: the same task
    fetches = query(luigid.history_url,
                    "SELECT COUNT(*) FROM crawl_runs WHERE family = 'FetchPages' AND crawl LIKE '%slow%'")
    assert fetches == [(1,)]


def test_a_worker_elsewhere_runs_a_tick_scheduled_by_path_from_luigids_params(
        luigid: Luigid, demo_site: DemoSite, tmp_path: Path) -> None:
    # The spec outside spec_dirs, its file not named after the crawl, given as a path relative to
    # the scheduling process's cwd; the worker that runs it has another cwd and only luigid's params.
    outside = tmp_path / "specs"
    outside.mkdir()
    (luigid.write_spec("away", demo_site.url, max_pages=20)).rename(outside / "my-away-crawl.toml")
    scheduled = subprocess.run(
        [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", "specs/my-away-crawl.toml",
         "--at", TICK, "--workers", "0"],  # schedule only: nothing runs in this process
        cwd=tmp_path, env=luigid.env(), capture_output=True, text=True, timeout=120)
    assert "RunCrawl(crawl=away, at=2026-11-21T0730)" in scheduled.stderr, scheduled.stderr[-3000:]

    assistant = subprocess.run(
        [PYTHON, "-c", "import luigi, pipelines.tasks; luigi.build([], assistant=True, workers=1)"],
        cwd="/", env=luigid.env(), capture_output=True, text=True, timeout=120)
    assert "done      RunCrawl(crawl=away, at=2026-11-21T0730)" in assistant.stderr, assistant.stderr[-4000:]
    assert query(luigid.items_url, "SELECT COUNT(*) FROM crawl_markers WHERE crawl = 'away'") == [(1,)]
    assert query(luigid.history_url, "SELECT DISTINCT crawl FROM crawl_runs WHERE crawl LIKE '%away%'") == [("away",)]


def test_a_path_and_a_name_build_the_same_task(tmp_path: Path) -> None:
    spec = tmp_path / "file-name.toml"
    spec.write_text((ROOT / "pipelines/crawls/demo.toml").read_text().replace('name = "demo"', 'name = "shop"'))
    by_path = RunCrawl(crawl=str(spec), at=AT)
    assert (by_path.crawl, by_path.spec_path) == ("shop", str(spec))
    assert by_path.task_id == RunCrawl(crawl="shop", at=AT).task_id
    fetch = by_path.requires().requires().requires()
    assert (fetch.crawl, fetch.spec_path, fetch.spec.path) == ("shop", str(spec), spec)


def test_overrides_cannot_rename_a_crawl(tmp_path: Path) -> None:
    spec = tmp_path / "shop.toml"
    spec.write_text((ROOT / "pipelines/crawls/demo.toml").read_text())
    with pytest.raises(SpecError, match="a crawl's name is its identity"):
        _ = FetchPages(crawl=str(spec), at=AT, overrides={"name": "other"}).spec


def test_a_missing_spec_file_is_still_said_when_the_spec_loads() -> None:
    task = RunCrawl(crawl="no/such/spec.toml", at=AT)
    assert task.crawl == "no/such/spec.toml"
    with pytest.raises(SpecError, match="no such crawl spec file"):
        _ = task.requires().spec
