"""The shipped luigi.cfg's data_dir is relative (var/data): a spider and a script still write their tick there.

The children run in their own folders (the Scrapy project's, the script's), so the output folder they
are told must not be relative to the worker's. The worker here runs in a scratch folder with
`data_dir = data`, as `./scheduler.sh up` runs one in the checkout with `var/data`.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PYTHON, ROOT, DemoSite, Luigid, start_demo_site, stop
from tests.runs.support import runs_where

PRODUCTS = 5


@pytest.fixture(scope="module")
def small_site() -> Iterator[DemoSite]:
    site = start_demo_site(PRODUCTS)
    yield site
    stop(site.proc)


def relative_worker(luigid: Luigid, folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """`python -m luigi --module pipelines.external ARGS` in `folder`, with `[crawl] data_dir = data`."""
    config = folder / "luigi.cfg"
    config.write_text(luigid.config.read_text().replace(f"data_dir = {luigid.data_dir}", "data_dir = data"))
    assert "data_dir = data\n" in config.read_text()
    return subprocess.run([PYTHON, "-m", "luigi", "--module", "pipelines.external", *args], cwd=folder,
                          env={**luigid.env(), "LUIGI_CONFIG_PATH": str(config)}, capture_output=True, text=True,
                          timeout=180)


def test_a_script_writes_into_the_workers_relative_data_dir(luigid: Luigid, small_site: DemoSite,
                                                            tmp_path: Path) -> None:
    script = ROOT / "examples/requests_script/fetch_books.py"
    done = relative_worker(luigid, tmp_path, "PythonScript", "--path", str(script), "--name", "rel-script",
                           "--args", json.dumps(["--site", small_site.url, "--pages", "1"]), "--at", "2026-11-21T0730")
    assert done.returncode == 0, done.stderr[-3000:]
    books = tmp_path / "data/external/rel-script/20261121T0730Z/books.jsonl"
    assert len(books.read_text(encoding="utf-8").splitlines()) == PRODUCTS
    assert not list(script.parent.glob("data"))  # nothing written beside the script


def test_a_scrapy_spider_writes_into_the_workers_relative_data_dir(luigid: Luigid, small_site: DemoSite,
                                                                   tmp_path: Path) -> None:
    pytest.importorskip("scrapy", reason="the Scrapy extra is not installed: pip install -r requirements-scrapy.txt")
    done = relative_worker(luigid, tmp_path, "ScrapySpider", "--project", str(ROOT / "examples/scrapy_shop"),
                           "--spider", "shop", "--name", "rel-spider", "--at", "2026-11-21T0730",
                           "--args", json.dumps({"start_url": small_site.url}))
    assert done.returncode == 0, done.stderr[-3000:]
    items = tmp_path / "data/external/rel-spider/20261121T0730Z/items.jsonl"
    assert len(items.read_text(encoding="utf-8").splitlines()) == PRODUCTS
    (record,) = runs_where(luigid, family="ScrapySpider", name="rel-spider")
    assert record["status"] == "done" and json.loads(record["stats"])["items"] == PRODUCTS


test_a_scrapy_spider_writes_into_the_workers_relative_data_dir = pytest.mark.scrapy(
    test_a_scrapy_spider_writes_into_the_workers_relative_data_dir)
