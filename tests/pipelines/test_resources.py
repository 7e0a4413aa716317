"""Limits through Luigi's [resources]: FetchPages holds `site_<host>` (and, rendering with a
browser, `browser` / `browser_<hostname>`) in luigid, but only the names [resources] sets.

The end-to-end tests start ticks of two crawls of one site at once, as two real `python -m luigi`
processes, against a real luigid with and without `site_127_0_0_1 = 1`, and compare the
FetchPages intervals their run records show.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from collections.abc import Iterator
from pathlib import Path

import luigi
import pytest
import sqlalchemy as sa

from pipelines.runs.records import create_tables, new_engine
from pipelines.spec import load_spec
from pipelines.store import engine_for
from pipelines.tasks import FetchPages, fetch_resources, resource_key
from tests.conftest import PYTHON, ROOT, DemoSite, Luigid, make_luigid, start_demo_site, stop

# Two crawls of one site (127.0.0.1), a tick of each. (Two ticks of one crawl storing the same
# items at the same moment can collide in StoreItems on SQLite, which is not what this tests.)
CRAWLS = ("shop", "shop_copy")
TICKS = ("2026-11-21T0730", "2026-11-21T0731")
# A worker that finds a limit full waits for it (polling luigid) instead of exiting 25 "not run".
WAIT_FOR_LIMITS = ("--worker-keep-alive", "--worker-count-uniques", "--worker-wait-interval", "0.5")


@pytest.fixture(scope="module")
def slow_site() -> Iterator[DemoSite]:
    # 40 ms per response: a fetch of 150 pages at concurrency 2 takes about 3 s, far longer
    # than the two workers' start can differ by.
    site = start_demo_site(500, latency_ms=40)
    yield site
    stop(site.proc)


def _luigid(home: Path, limits: str) -> Iterator[Luigid]:
    server = make_luigid(home)
    server.config.write_text(server.config.read_text() + limits)
    server.start()
    # The tables exist before two workers start at once: two workers creating them in fresh
    # SQLite files can lose a run record or fail scheduling on "table crawl_markers already
    # exists" (pipelines/store.py engine_for); this tests limits, not that.
    create_tables(new_engine(server.history_url))
    engine_for(server.items_url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Luigid]:
    yield from _luigid(tmp_path_factory.mktemp("limited"), "\n[resources]\nsite_127_0_0_1 = 1\n")


@pytest.fixture(scope="module")
def unlimited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Luigid]:
    yield from _luigid(tmp_path_factory.mktemp("unlimited"), "")


def start_both(server: Luigid, site: DemoSite, *flags: str, ticks: tuple[str, str] = TICKS) -> list[tuple[int, str]]:
    """A tick of each crawl started at once (ticks: a tick the luigid has not seen); each run's (exit code, output)."""
    for crawl in CRAWLS:
        server.write_spec(crawl, site.url, max_pages=150, concurrency=2)
    workers = [subprocess.Popen([PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", crawl,
                                 "--at", tick, *flags], cwd=ROOT, env=server.env(), stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True) for crawl, tick in zip(CRAWLS, ticks, strict=True)]
    try:
        outputs = [worker.communicate(timeout=120)[0] for worker in workers]
        return [(worker.returncode, out) for worker, out in zip(workers, outputs, strict=True)]
    finally:
        for worker in workers:
            stop(worker)


def two_ticks_at_once(server: Luigid, site: DemoSite, *flags: str) -> list[tuple[dt.datetime, dt.datetime]]:
    """Both runs must exit 0; the FetchPages (started, finished) of each, by start."""
    results = start_both(server, site, *flags)
    for code, out in results:
        assert code == 0, out[-3000:]
    with sa.create_engine(server.history_url).connect() as conn:
        rows = [r for r in conn.execute(sa.text("SELECT task_id, started_at, finished_at, status FROM crawl_runs "
                                                "WHERE family = 'FetchPages' ORDER BY started_at"))
                if any(tick.replace("-", "_") in r.task_id for tick in TICKS)]
    assert [r.status for r in rows] == ["done", "done"], [out[-2000:] for _, out in results]
    return [(_utc(r.started_at), _utc(r.finished_at)) for r in rows]


def _utc(value: dt.datetime | str) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def test_with_a_site_limit_of_one_two_crawls_of_the_site_fetch_one_after_the_other_and_both_finish(
        limited: Luigid, slow_site: DemoSite) -> None:
    (first_start, first_end), (second_start, _) = two_ticks_at_once(limited, slow_site, *WAIT_FOR_LIMITS)
    assert second_start >= first_end


def test_with_a_site_limit_a_one_shot_run_that_finds_it_full_exits_25_without_running(
        limited: Luigid, slow_site: DemoSite) -> None:
    # Without --worker-keep-alive a worker leaves when luigid has no task it may run now.
    results = sorted(start_both(limited, slow_site, ticks=("2026-11-21T0800", "2026-11-21T0801")))
    assert [code for code, _ in results] == [0, 25], results[-1][1][-3000:]
    assert "Did not run any tasks" in results[1][1]


def test_without_limits_two_crawls_of_the_site_fetch_at_the_same_time(unlimited: Luigid,
                                                                      slow_site: DemoSite) -> None:
    (_, first_end), (second_start, _) = two_ticks_at_once(unlimited, slow_site)
    assert second_start < first_end


def test_a_fetch_declares_no_resources_when_none_are_configured() -> None:
    # luigid gives a resource it has no number for a capacity of 1: declaring one unasked
    # would serialise every site. The repository's luigi.cfg sets no limit.
    assert luigi.configuration.get_config().getintdict("resources") == {}
    task = FetchPages(crawl="demo", at=dt.datetime(2026, 11, 21, 7, 30))
    assert task.process_resources() == {}


def test_a_fetch_declares_its_site_and_for_a_browser_crawl_the_browser_limits_that_are_configured(
        tmp_path: Path) -> None:
    text = (ROOT / "pipelines/crawls/demo.toml").read_text().replace('name = "demo"', 'name = "b"\nrender = "browser"')
    text = text.replace('start_urls = ["http://127.0.0.1:${DEMO_SITE_PORT:-8090}/"]',
                        'start_urls = ["http://Shop.Example:8090/", "https://shop.example/x", "http://other.example/"]')
    text = text.replace('allowed_domains = ["127.0.0.1"]', 'allowed_domains = ["shop.example", "other.example"]')
    spec_file = tmp_path / "b.toml"
    spec_file.write_text(text)
    spec = load_spec(str(spec_file), spec_dirs=[])
    everything = {"site_shop_example": 2, "site_other_example": 1, "browser": 4, "browser_worker_a_lan": 1,
                  "site_unrelated": 1}
    assert fetch_resources(spec, "Worker-A.lan", everything) == {
        "site_shop_example": 1, "site_other_example": 1, "browser": 1, "browser_worker_a_lan": 1}
    assert fetch_resources(spec, "Worker-A.lan", {"browser_worker_a_lan": 1}) == {"browser_worker_a_lan": 1}
    assert fetch_resources(spec, "worker-b", {"browser_worker_a_lan": 1}) == {}


def test_resource_names_are_valid_config_keys() -> None:
    assert resource_key("site", "xn--bcher-kva.Example.COM") == "site_xn__bcher_kva_example_com"
    assert resource_key("site", "::1") == "site___1"
