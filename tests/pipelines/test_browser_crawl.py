"""Browser crawls through the whole chain: luigi CLI, luigid, headless Chromium."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.demo import site
from pipelines.fetch.reaper import matching
from tests.conftest import PYTHON, ROOT, DemoSite, Luigid

pytestmark = pytest.mark.browser

TICK = "2026-11-21T0800"


@pytest.fixture(autouse=True)
def chromium() -> None:
    if not Path("/usr/bin/chromium").exists() or not Path("/usr/bin/chromedriver").exists():
        pytest.skip("Debian's chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)")


def browser_spec(luigid: Luigid, name: str, demo: DemoSite, **fetch: object) -> Path:
    path = luigid.write_spec(name, demo.url, render="browser", **fetch)
    text = path.read_text()
    # The JS page and a few products, all rendered by Chromium.
    text = text.replace(f'start_urls = ["{demo.url}"]',
                        f'start_urls = ["{demo.url}js/product.html", "{demo.url}catalogue/page-1.html"]')
    text = text.replace("item_pages = '/catalogue/product-\\d+\\.html$'",
                        "item_pages = '/(catalogue/product-\\d+|js/product)\\.html$'")
    text = text.replace("follow = ['/catalogue/page-\\d+\\.html$']", "follow = ['/catalogue/page-1\\.html$']")
    path.write_text(text)
    return path


def browsers_left(run_dir: Path) -> list[int]:
    return matching(str(run_dir))


def wait_until_gone(run_dir: Path, seconds: float = 15.0) -> list[int]:
    deadline = time.monotonic() + seconds
    left = browsers_left(run_dir)
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = browsers_left(run_dir)
    return left


def test_a_browser_crawl_extracts_the_javascript_rendered_page(luigid: Luigid, demo_site: DemoSite) -> None:
    browser_spec(luigid, "js-shop", demo_site)
    result = luigid.run("RunCrawl", "--crawl", "js-shop", "--at", TICK)
    assert result.returncode == 0, result.stderr[-4000:]
    engine = sa.create_engine(luigid.items_url)
    with engine.connect() as conn:
        rows = {k: json.loads(d) for k, d in conn.execute(
            sa.text("SELECT item_key, data FROM crawl_items WHERE crawl = 'js-shop'"))}
    js = site.JS_PRODUCT
    assert rows[js["upc"]]["title"] == js["title"]
    assert rows[js["upc"]]["price"] == js["price"]
    assert len(rows) == 1 + 20  # the JS page and listing page 1's products
    assert wait_until_gone(luigid.home / "browsers") == []


def start_browser_worker(luigid: Luigid, crawl: str, site: DemoSite) -> subprocess.Popen:
    """A luigi CLI worker crawling every listing page in a browser, once its pool of 2 is up."""
    spec = browser_spec(luigid, crawl, site, browser_pool=2, concurrency=2)
    spec.write_text(spec.read_text().replace("page-1\\.html$']", "page-\\d+\\.html$']"))
    return start_worker(luigid, crawl, drivers=2)


def start_worker(luigid: Luigid, crawl: str, drivers: int) -> subprocess.Popen:
    """A luigi CLI worker of `crawl`, returned once `drivers` browsers of it run."""
    run_dir = luigid.home / "browsers"
    worker = subprocess.Popen(
        [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", crawl, "--at", TICK],
        cwd=ROOT, env=luigid.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and len(list(run_dir.glob("*.json"))) < drivers and worker.poll() is None:
        time.sleep(0.1)
    assert len(list(run_dir.glob("*.json"))) == drivers, "the browser pool never started"
    assert browsers_left(run_dir)
    return worker


def test_a_killed_browser_worker_leaves_no_chromium_behind(luigid: Luigid, slow_demo_site: DemoSite) -> None:
    run_dir = luigid.home / "browsers"
    worker = start_browser_worker(luigid, "js-killed", slow_demo_site)
    os.kill(worker.pid, signal.SIGKILL)
    worker.wait()
    time.sleep(0.5)
    assert browsers_left(run_dir), "chromium died with the worker; the test proves nothing"
    reaped = subprocess.run([PYTHON, "-m", "pipelines.fetch.reaper", "--run-dir", str(run_dir)],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert reaped.returncode == 0, reaped.stderr
    assert wait_until_gone(run_dir) == []


@pytest.fixture(scope="module")
def slow_demo_site() -> DemoSite:
    from tests.conftest import start_demo_site, stop

    demo = start_demo_site(300, latency_ms=200)
    yield demo
    stop(demo.proc)


def test_a_worker_stopped_with_sigterm_quits_its_browsers(luigid: Luigid, slow_demo_site: DemoSite) -> None:
    run_dir = luigid.home / "browsers"
    worker = start_browser_worker(luigid, "js-term", slow_demo_site)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) != 0
    assert wait_until_gone(run_dir) == []  # no reaper involved
    assert not list((luigid.data_dir / "js-term").glob("*/fetch"))


RENDER_HOOK = '''
from pipelines.fetch.http import Request


def rendered(page):
    """The listing pages linked from a page, each rendered in Chromium."""
    for href in page.selector.css("a::attr(href)").getall():
        if "catalogue/page-" in href:
            yield Request(href, render="browser")
'''


def test_a_worker_of_an_http_crawl_stopped_with_sigterm_quits_the_browser_its_link_hook_started(
        luigid: Luigid, slow_demo_site: DemoSite) -> None:
    run_dir = luigid.home / "browsers"
    (luigid.spec_dir / "render_hooks.py").write_text(RENDER_HOOK)
    spec = luigid.write_spec("hook-term", slow_demo_site.url, browser_pool=1, concurrency=2)
    # render stays "http": only the hook's requests go to Chromium (anchors off: listing pages only, all rendered).
    spec.write_text(spec.read_text() + '\n[links]\nanchors = false\nhook = "render_hooks:rendered"\n')
    worker = start_worker(luigid, "hook-term", drivers=1)
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=60) != 0
    assert wait_until_gone(run_dir) == []  # no reaper involved
    assert not list((luigid.data_dir / "hook-term").glob("*/fetch"))
