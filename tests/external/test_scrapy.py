"""ScrapySpider through a real luigid and the luigi CLI, on the bundled demo site; /metrics on the result."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipelines.demo.site import listing_pages, product
from tests.conftest import ROOT, DemoSite, Luigid, free_port, make_luigid, start_demo_site, stop, wait_http
from tests.external.support import AT, messages, record, run, start
from tests.runs.support import log_of, runs_where, wait_for

pytestmark = pytest.mark.scrapy
PRODUCTS = 30
PROJECT = ROOT / "examples/scrapy_shop"
BROKEN = Path(__file__).resolve().parent / "spiders/broken.py"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


@pytest.fixture(scope="module", autouse=True)
def scrapy_installed() -> None:
    pytest.importorskip("scrapy", reason="the Scrapy extra is not installed: pip install -r requirements-scrapy.txt")


@pytest.fixture(scope="module")
def site() -> Iterator[DemoSite]:
    demo = start_demo_site(PRODUCTS)
    yield demo
    stop(demo.proc)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, site: DemoSite) -> Iterator[Luigid]:
    """One luigid and its history: the shop spider done once, the broken spider failed once."""
    server = make_luigid(tmp_path_factory.mktemp("scrapy"))
    server.start()
    try:
        shop = run(server, "ScrapySpider", "--project", str(PROJECT), "--spider", "shop", "--at", AT,
                   "--args", json.dumps({"start_url": site.url}))
        assert shop.returncode == 0, shop.stderr[-3000:]
        broken = run(server, "ScrapySpider", "--project", str(BROKEN), "--at", AT,
                     "--args", json.dumps({"start_url": site.url}), "--settings", '{"CLOSESPIDER_ERRORCOUNT": 1}')
        assert broken.returncode == 30, broken.stderr[-3000:]
        yield server
    finally:
        server.stop()


def test_the_spiders_items_are_the_demo_sites_products(world: Luigid, site: DemoSite) -> None:
    lines = (world.data_dir / "external/shop/20261121T0730Z/items.jsonl").read_text(encoding="utf-8").splitlines()
    items = sorted((json.loads(line) for line in lines), key=lambda item: item["url"])

    expected = []
    for pid in range(1, PRODUCTS + 1):
        truth = product(pid)
        truth.pop("currency")
        expected.append({"url": f"{site.url}catalogue/product-{pid}.html", **truth})
    assert items == sorted(expected, key=lambda item: item["url"])


def test_the_scrapy_stats_are_in_the_run_record(world: Luigid) -> None:
    row = _shop(world)
    stats = json.loads(row["stats"])

    assert row["status"] == "done" and row["crawl"] == "shop"
    pages = 1 + 1 + listing_pages(PRODUCTS) + PRODUCTS  # robots.txt, home, listings, products
    assert (stats["pages"], stats["items"], stats["errors"], stats["finish_reason"]) == (pages, PRODUCTS, 0, "finished")
    assert stats["responses_by_status"] == {"200": pages} and stats["exit_code"] == 0
    assert stats["elapsed_s"] > 0 and stats["spider"] == "shop" and stats["engine"] == "scrapy"


def test_scrapys_log_lines_are_in_the_run_record_with_their_levels(world: Luigid) -> None:
    row = _shop(world)

    lines = [(r["level"], r["logger"], r["message"]) for r in log_of(world, row["id"])]
    opened = [line for line in lines if line[2].endswith("Spider opened")]
    assert opened and opened[0][:2] == ("INFO", "external.shop.stderr")
    assert any("Closing spider (finished)" in message for _, _, message in lines)


def test_a_spider_closed_by_its_error_count_fails_with_its_stats_recorded(world: Luigid) -> None:
    rows = [r for r in _runs(world) if r["crawl"] == "broken"]
    assert len(rows) == 1
    row = rows[0]
    stats = json.loads(row["stats"])

    assert row["status"] == "failed"
    assert row["error_type"] == "pipelines.external.exceptions.SpiderNotFinished"
    assert "closed with finish_reason 'closespider_errorcount'" in row["error_message"]
    assert stats["finish_reason"] == "closespider_errorcount" and stats["errors"] >= 1
    assert stats["spider_exceptions"] >= 1
    ticks = world.data_dir / "external/broken"
    assert not (ticks / "20261121T0730Z").exists()  # no output; what it wrote is kept beside it
    assert [p.name.split(".")[1].split("-")[0] for p in ticks.iterdir()] == ["failed"]
    assert any("ValueError: cannot read" in line for line in messages(world, row["id"]))


def test_a_rerun_of_a_done_spider_tick_does_nothing(world: Luigid, site: DemoSite) -> None:
    again = run(world, "ScrapySpider", "--project", str(PROJECT), "--spider", "shop", "--at", AT,
                "--args", json.dumps({"start_url": site.url}))

    assert again.returncode == 0, again.stderr[-3000:]
    assert len([r for r in _runs(world) if r["crawl"] == "shop"]) == 1


def test_an_unknown_spider_fails_with_scrapys_exit_code_and_its_last_lines(world: Luigid) -> None:
    unknown = run(world, "ScrapySpider", "--project", str(PROJECT), "--spider", "nope", "--at", AT)

    assert unknown.returncode == 30, unknown.stderr[-3000:]
    row = runs_where(world, family="ScrapySpider", crawl="nope")[0]
    assert row["error_type"] == "pipelines.external.exceptions.ChildFailed"
    assert row["error_message"].startswith("spider nope exited with code 1; last lines: ")
    assert "Spider not found: nope" in row["error_message"]


def test_a_spider_stopped_by_the_workers_sigterm_closes_gracefully_and_its_stats_are_kept(world: Luigid) -> None:
    slow = start_demo_site(PRODUCTS, latency_ms=300)
    worker = start(world, "ScrapySpider", "--project", str(PROJECT), "--spider", "shop", "--name", "slowshop",
                   "--at", AT, "--args", json.dumps({"start_url": slow.url}), "--settings",
                   '{"CONCURRENT_REQUESTS": 1}')
    try:
        row = wait_for(lambda: runs_where(world, family="ScrapySpider", crawl="slowshop"), 60, "a run record")[0]
        wait_for(lambda: any(line.endswith("Spider opened") for line in messages(world, row["id"])), 60,
                 "Scrapy's 'Spider opened' in the DB")

        os.killpg(worker.pid, signal.SIGTERM)  # what the trigger daemon's timeout does
        worker.wait(60)
    finally:
        stop(worker)
        stop(slow.proc)

    assert worker.returncode == 30
    row = runs_where(world, family="ScrapySpider", crawl="slowshop")[0]
    stats = json.loads(row["stats"])
    assert row["status"] == "failed" and row["error_type"] == "pipelines.external.exceptions.ChildTerminated"
    assert "spider slowshop and its process group were stopped" in row["error_message"]
    # Exactly one SIGTERM reached Scrapy (through leash.py): it closed the spider itself and wrote its stats.
    assert stats["finish_reason"] == "shutdown"
    log = messages(world, row["id"])
    assert any("Received SIGTERM, shutting down gracefully" in line for line in log)
    assert not any("forcing unclean shutdown" in line for line in log)


def test_without_scrapy_the_task_fails_with_a_sentence(world: Luigid, tmp_path: Path, site: DemoSite) -> None:
    hide = tmp_path / "no-scrapy"
    hide.mkdir()
    (hide / "sitecustomize.py").write_text("import sys\nsys.modules['scrapy'] = None  # as if not installed\n")

    missing = run(world, "ScrapySpider", "--project", str(PROJECT), "--spider", "shop", "--name", "noscrapy",
                  "--at", AT, PYTHONPATH=f"{hide}:{ROOT}")

    assert missing.returncode == 30
    row = record(world, "ScrapySpider", "noscrapy")
    assert row["error_type"] == "pipelines.external.exceptions.ScrapyMissing"
    assert row["error_message"].startswith(f"Scrapy is not installed in {sys.executable}: install the optional "
                                           "extra with `pip install -r requirements-scrapy.txt`")


def test_metrics_show_the_scrapy_figures(world: Luigid, tmp_path: Path) -> None:
    text = _scrape(world, tmp_path)
    pages = 1 + 1 + listing_pages(PRODUCTS) + PRODUCTS

    assert f'crawl_pages_fetched_total{{crawl="shop"}} {pages:.1f}' in text
    assert f'crawl_items_parsed_total{{crawl="shop"}} {PRODUCTS:.1f}' in text
    assert f'crawl_responses_total{{crawl="shop",status_class="2xx"}} {pages:.1f}' in text
    assert 'crawl_scrapy_closes_total{crawl="shop",reason="finished"} 1.0' in text
    assert 'crawl_scrapy_closes_total{crawl="broken",reason="closespider_errorcount"} 1.0' in text
    assert 'crawl_scrapy_errors_total{crawl="shop"} 0.0' in text
    assert 'crawl_task_runs_total{family="ScrapySpider",status="done"} 1.0' in text
    assert 'crawl_last_success_timestamp_seconds{crawl="shop"}' in text
    assert 'crawl_last_success_timestamp_seconds{crawl="broken"}' not in text
    if Path(PROMTOOL).exists():
        checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                                 timeout=30)
        assert checked.returncode == 0 and checked.stdout + checked.stderr == "", checked.stdout + checked.stderr


def _runs(world: Luigid) -> list[dict]:
    return runs_where(world, family="ScrapySpider")


def _shop(world: Luigid) -> dict:
    rows = runs_where(world, family="ScrapySpider", crawl="shop")
    assert len(rows) == 1, rows
    return rows[0]


def _scrape(world: Luigid, tmp_path: Path) -> str:
    """GET /metrics of a real webmon reading this luigid's history DB (127.0.0.1 needs no token)."""
    port = free_port()
    env = world.env(DATABASE_URL=f"sqlite:///{tmp_path}/webmon.db", SECRET_KEY="tests-only", LUIGID_URL=world.url,
                    DJANGO_SETTINGS_MODULE="webmon.settings")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True,
                   timeout=120)
    with open(tmp_path / "webmon.log", "wb") as log:
        webmon = subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",
                                   f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/metrics", timeout=60, proc=webmon)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            return response.read().decode()
    finally:
        stop(webmon)
