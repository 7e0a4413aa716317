"""The demo workflow as a user runs it: `python -m luigi --module pipelines.workflows.demo ShopReport --at ...`.

A real luigid (task history and run records on SQLite), the demo server
(30 products, so the outlet has 29 books: 26 shared, 4 only in the
catalogue, 3 only in the outlet) and the shipped specs demo.toml and
demo-b.toml. One tick runs both crawls through requires(), then the exports,
the comparison and the report; everything is checked against the ground
truth of pipelines/demo/site.py and outlet.py.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from pipelines.demo import outlet, site
from tests.conftest import ROOT, DemoSite, Luigid, start_demo_site, stop
from tests.workflows.support import DAG, TICK, TICK_DIR, install_demo_specs, read_csv, run_luigi, runs, value_of

PRODUCTS = 30
MAIN_FIELDS = ("title", "price", "availability", "stock", "tags", "upc", "description")
OUTLET_FIELDS = ("title", "price", "condition", "upc")


@pytest.fixture(scope="module")
def shops() -> Iterator[DemoSite]:
    demo = start_demo_site(PRODUCTS)
    yield demo
    stop(demo.proc)


@pytest.fixture(scope="module")
def ticked(luigid: Luigid, shops: DemoSite) -> Luigid:
    """One tick of ShopReport, run once for the module."""
    install_demo_specs(luigid)
    result = run_luigi(luigid, shops, "pipelines.workflows.demo", "ShopReport", "--at", TICK)
    assert result.returncode == 0, result.stderr[-4000:]
    return luigid


def exports(luigid: Luigid) -> Path:
    return luigid.data_dir / "exports"


def comparison_dir(luigid: Luigid) -> Path:
    (folder,) = (exports(luigid) / "demo+demo-b" / TICK_DIR).glob("prices-upc-*")
    return folder


def test_the_tick_runs_both_crawls_first_then_exports_compares_and_reports(ticked: Luigid) -> None:
    records = [r for r in runs(ticked) if r["params"].get("at") == TICK]
    assert Counter(r["family"] for r in records) == DAG
    assert {r["status"] for r in records} == {"done"}
    by = {(r["family"], r["crawl"]): r for r in records}
    for crawl in ("demo", "demo-b"):
        assert by[("RunCrawl", crawl)]["finished_at"] <= by[("ExportItems", crawl)]["started_at"]
        assert by[("StoreItems", crawl)]["finished_at"] <= by[("PriceComparison", None)]["started_at"]
    assert by[("PriceComparison", None)]["finished_at"] <= by[("ShopReport", None)]["started_at"]
    assert by[("ExportItems", "demo")]["finished_at"] <= by[("ShopReport", None)]["started_at"]


def test_the_catalogue_export_holds_every_product_field_by_field(ticked: Luigid, shops: DemoSite) -> None:
    path = exports(ticked) / "demo" / TICK_DIR / "items.csv"
    header, rows = read_csv(path)
    assert header == ["_key", "_url", *MAIN_FIELDS]  # the spec's field order
    expected = {site.product(pid)["upc"]: pid for pid in range(1, PRODUCTS + 1)}
    assert [row["_key"] for row in rows] == sorted(expected)
    for row in rows:
        pid = expected[row["_key"]]
        truth = site.product(pid)
        assert row["_url"] == f"{shops.url}catalogue/product-{pid}.html"
        for name in MAIN_FIELDS:
            assert value_of(row[name], truth[name]) == truth[name], (pid, name)
    stats = runs(ticked, family="ExportItems", crawl="demo")[0]["stats"]
    assert stats["rows"] == PRODUCTS and stats["bytes"] == path.stat().st_size and stats["format"] == "csv"


def test_the_outlet_export_holds_every_book_field_by_field(ticked: Luigid) -> None:
    header, rows = read_csv(exports(ticked) / "demo-b" / TICK_DIR / "items.csv")
    assert header == ["_key", "_url", *OUTLET_FIELDS]
    expected = {outlet.outlet_product(pid)["upc"]: pid for pid in outlet.outlet_pids(PRODUCTS)}
    assert len(expected) == 29
    assert [row["_key"] for row in rows] == sorted(expected)
    for row in rows:
        truth = outlet.outlet_product(expected[row["_key"]])
        assert row["_url"].endswith(outlet.book_path(expected[row["_key"]]))
        for name in OUTLET_FIELDS:
            assert value_of(row[name], truth[name]) == truth[name], (row["_key"], name)


def test_a_jsonl_export_of_the_complete_tick_runs_only_the_export(ticked: Luigid, shops: DemoSite) -> None:
    before = len(runs(ticked))
    result = run_luigi(ticked, shops, "pipelines.workflows.export", "ExportItems",
                       "--crawl", "demo-b", "--at", TICK, "--format", "jsonl")
    assert result.returncode == 0, result.stderr[-4000:]
    new = runs(ticked)[before:]
    assert [r["family"] for r in new] == ["ExportItems"]  # the tick was complete: no crawl task ran again
    lines = (exports(ticked) / "demo-b" / TICK_DIR / "items.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    truth = {outlet.outlet_product(pid)["upc"]: outlet.outlet_product(pid) for pid in outlet.outlet_pids(PRODUCTS)}
    assert [r["key"] for r in records] == sorted(truth)
    for record in records:
        assert record["fields"] == truth[record["key"]]  # types kept: price a number, condition text
    assert new[0]["stats"]["rows"] == 29


def test_the_comparison_pairs_both_shops_prices_and_counts_the_rest(ticked: Luigid) -> None:
    folder = comparison_dir(ticked)
    header, rows = read_csv(folder / "matched.csv")
    assert header == ["key", "left_price", "right_price", "difference", "difference_pct",
                      "left_title", "right_title", "left_url", "right_url"]
    shared = [pid for pid in outlet.outlet_pids(PRODUCTS) if pid <= PRODUCTS]
    truth = {site.product(pid)["upc"]: pid for pid in shared}
    assert [row["key"] for row in rows] == sorted(truth)
    for row in rows:
        main, book = site.product(truth[row["key"]]), outlet.outlet_product(truth[row["key"]])
        assert json.loads(row["left_price"]) == main["price"]
        assert json.loads(row["right_price"]) == book["price"]
        difference = Decimal(str(book["price"])) - Decimal(str(main["price"]))
        assert Decimal(row["difference"]) == difference  # exact to the penny, no float residue
        assert json.loads(row["difference_pct"]) == float(round(difference / Decimal(str(main["price"])) * 100, 2))
        assert row["left_title"] == row["right_title"] == main["title"]
    only_left = read_csv(folder / "left_only.csv")[1]
    only_right = read_csv(folder / "right_only.csv")[1]
    assert {r["key"] for r in only_left} == {site.product(pid)["upc"] for pid in (7, 14, 21, 28)}
    assert {r["key"] for r in only_right} == {site.product(pid)["upc"] for pid in (31, 32, 33)}
    cheaper_left = sum(outlet.outlet_product(p)["price"] > site.product(p)["price"] for p in shared)
    cheaper_right = sum(outlet.outlet_product(p)["price"] < site.product(p)["price"] for p in shared)
    expected = {"matched": 26, "only_left": 4, "only_right": 3, "unpriced": 0, "cheaper_left": cheaper_left,
                "cheaper_right": cheaper_right, "same_price": 26 - cheaper_left - cheaper_right}
    assert cheaper_left and cheaper_right and expected["same_price"]  # the demo data has all three
    summary = json.loads((folder / "summary.json").read_text())
    stats = runs(ticked, family="PriceComparison")[0]["stats"]
    for counts in (summary, stats):
        assert {k: counts[k] for k in expected} == expected


def test_the_report_sums_up_the_tick(ticked: Luigid) -> None:
    report = json.loads((exports(ticked) / "demo+demo-b" / TICK_DIR / "shop-report.json").read_text())
    assert report["left"]["items"] == 30 and report["right"]["items"] == 29
    assert Path(report["left"]["export"]).is_file() and Path(report["right"]["export"]).is_file()
    assert report["comparison"]["matched"] == 26
    biggest = report["biggest_differences"]
    shared = [pid for pid in outlet.outlet_pids(PRODUCTS) if pid <= PRODUCTS]
    percents = sorted((abs(outlet.outlet_product(p)["price"] / site.product(p)["price"] - 1) for p in shared),
                      reverse=True)
    assert len(biggest) == 5
    assert [abs(b["difference_pct"]) for b in biggest] == pytest.approx([round(p * 100, 2) for p in percents[:5]],
                                                                          abs=0.011)


def test_a_rerun_of_the_complete_tick_runs_nothing(ticked: Luigid, shops: DemoSite) -> None:
    files = [p for p in exports(ticked).rglob("*") if p.is_file()]
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    before = len(runs(ticked))
    result = run_luigi(ticked, shops, "pipelines.workflows.demo", "ShopReport", "--at", TICK)
    assert result.returncode == 0, result.stderr[-4000:]
    assert len(runs(ticked)) == before
    assert {p: p.stat().st_mtime_ns for p in files} == mtimes
    assert "1 complete ones were encountered" in result.stderr + result.stdout


def test_a_failed_crawl_fails_the_workflow_and_leaves_no_partial_export(ticked: Luigid, shops: DemoSite) -> None:
    # A second shop that is down: its crawl fails (not one page fetched), so nothing built on it may appear.
    ticked.write_spec("dead-shop", "http://127.0.0.1:9/outlet/", retries=0)
    tick, tick_dir = "2026-11-21T0800", "20261121T0800Z"
    result = run_luigi(ticked, shops, "pipelines.workflows.demo", "ShopReport", "--at", tick, "--right", "dead-shop")
    assert result.returncode == 30, result.stderr[-4000:]
    records = [r for r in runs(ticked) if r["params"].get("at") == tick]
    status = {(r["family"], r["crawl"]): r["status"] for r in records}
    assert status[("FetchPages", "dead-shop")] == "failed"
    assert not any(r["family"] in ("PriceComparison", "ShopReport") or
                   (r["family"] == "ExportItems" and r["crawl"] == "dead-shop") for r in records)
    assert not (exports(ticked) / "dead-shop").exists()
    assert not (exports(ticked) / "demo+dead-shop").exists()
    assert not list(exports(ticked).rglob("*.tmp-*"))
    # The other shop's export does not depend on the dead one: luigi still runs it, and it is whole.
    assert status[("ExportItems", "demo")] == "done"
    assert len(read_csv(exports(ticked) / "demo" / tick_dir / "items.csv")[1]) == PRODUCTS


def test_the_example_workflow_of_the_docs_runs_on_the_complete_tick(ticked: Luigid, shops: DemoSite,
                                                                      tmp_path: Path) -> None:
    docs = (ROOT / "docs" / "workflows.md").read_text(encoding="utf-8")
    (code,) = re.findall(r'```python\n("""cheap_books\.py.*?)```', docs, re.S)
    (tmp_path / "cheap_books.py").write_text(code, encoding="utf-8")
    before = len(runs(ticked))
    result = run_luigi(ticked, shops, "cheap_books", "CheapBooks", "--at", TICK, "--below", "20", path=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    assert [r["family"] for r in runs(ticked)[before:]] == ["CheapBooks"]  # the tick was complete
    lines = (exports(ticked) / "demo" / TICK_DIR / "cheap-below-20.jsonl").read_text(encoding="utf-8").splitlines()
    cheap = sorted((site.product(p) for p in range(1, PRODUCTS + 1) if site.product(p)["price"] < 20),
                   key=lambda p: p["upc"])
    assert cheap and [json.loads(line) for line in lines] == [
        {"key": p["upc"], "title": p["title"], "price": p["price"]} for p in cheap]


def test_a_tick_whose_parse_folder_was_deleted_fails_its_export_with_a_sentence(ticked: Luigid,
                                                                                shops: DemoSite) -> None:
    tick, tick_dir = "2026-11-21T0900", "20261121T0900Z"
    crawl = run_luigi(ticked, shops, "pipelines.tasks", "RunCrawl", "--crawl", "demo", "--at", tick)
    assert crawl.returncode == 0, crawl.stderr[-4000:]
    for path in sorted((ticked.data_dir / "demo" / tick_dir / "parse").iterdir()):
        path.unlink()
    (ticked.data_dir / "demo" / tick_dir / "parse").rmdir()  # as a clean-up of old tick folders would
    result = run_luigi(ticked, shops, "pipelines.workflows.export", "ExportItems", "--crawl", "demo", "--at", tick)
    assert result.returncode == 30
    (record,) = [r for r in runs(ticked, family="ExportItems") if r["params"]["at"] == tick]
    assert record["status"] == "failed"
    assert record["error_message"].startswith(f"crawl 'demo' tick {tick_dir} has no parsed items at ")
    assert not list((exports(ticked) / "demo").glob(f"{tick_dir}/*"))  # no export, no temporary file
