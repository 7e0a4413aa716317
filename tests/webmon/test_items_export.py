"""Exports of a filter or a tick as CSV and JSON lines: the spec's fields as the header, values safe in a
spreadsheet, quoting that round-trips, streamed in chunks that visit every item once."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.http import StreamingHttpResponse
from django.test import Client
from items_seed import ItemsSeed, rec

from webmon.items import queries
from webmon.items.models import CrawlItem

ROOT = Path(__file__).resolve().parents[2]
T1 = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
T2 = datetime(2026, 1, 1, 7, 30, tzinfo=UTC)
SPEC_FIELDS = ["title", "price", "availability", "stock", "tags", "upc", "description"]  # demo.toml's, in order


@pytest.fixture
def spec_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A spec folder with the demo spec saved as crawl `shop`."""
    folder = tmp_path / "crawls"
    folder.mkdir()
    text = (ROOT / "pipelines/crawls/demo.toml").read_text().replace('name = "demo"', 'name = "shop"')
    (folder / "shop.toml").write_text(text)
    monkeypatch.setenv("CRAWL_SPEC_DIRS", str(folder))
    return folder


def download(client: Client, url: str) -> tuple[StreamingHttpResponse, str]:
    response = client.get(url)
    assert response.status_code == 200, response.content[:300]
    assert isinstance(response, StreamingHttpResponse)
    return response, b"".join(response.streaming_content).decode("utf-8")


def csv_rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def test_csv_has_the_specs_fields_and_round_trips_hostile_values(
    client: Client, items_db: ItemsSeed, spec_dir: Path,
) -> None:
    items_db.tick("shop", T1, [
        rec("=HYPERLINK(\"http://evil\")", title="+cmd|' /C calc'!A0", price=-5.5, stock=3, upc="@SUM(A1:A9)",
            tags=["a,b", 'say "hi"'], description="line one\nline two, with \"quotes\"", availability="-2+3"),
        rec("plain", title="\ttabbed", price=12.0, upc="\rreturn", extra="not in the spec"),
    ])
    response, text = download(client, "/crawl/items/export.csv?name=shop")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == 'attachment; filename="shop-items.csv"'
    assert text.startswith("item_key,url,first_seen,last_seen,last_changed," + ",".join(SPEC_FIELDS) + ",other_fields\r\n")
    rows = {row["upc"]: row for row in csv_rows(text)}
    hostile, plain = rows["'@SUM(A1:A9)"], rows["'\rreturn"]
    # Every text value a spreadsheet would run as a formula starts with a ', the rest is as stored.
    assert hostile["item_key"] == "'=HYPERLINK(\"http://evil\")"
    assert hostile["title"] == "'+cmd|' /C calc'!A0"
    assert hostile["availability"] == "'-2+3"
    assert hostile["price"] == "-5.5" and hostile["stock"] == "3"  # JSON numbers stay numbers
    assert json.loads(hostile["tags"]) == ["a,b", 'say "hi"']
    assert hostile["description"] == "line one\nline two, with \"quotes\""
    assert hostile["first_seen"] == hostile["last_seen"] == hostile["last_changed"] == "2026-01-01T07:00:00Z"
    assert hostile["other_fields"] == ""
    assert plain["title"] == "'\ttabbed" and plain["price"] == "12.0" and plain["stock"] == ""
    # A field the spec does not name is kept.
    assert json.loads(plain["other_fields"]) == {"extra": "not in the spec"}


def test_a_field_named_like_a_column_keeps_both(client: Client, items_db: ItemsSeed, spec_dir: Path) -> None:
    spec = spec_dir / "shop.toml"
    spec.write_text(spec.read_text() + '\n[fields.url]\ncss = "link::attr(href)"\n')
    items_db.tick("shop", T1, [{"key": "a", "url": "http://shop.example/a",
                                "fields": {"title": "A", "url": "http://elsewhere/"}}])
    _, text = download(client, "/crawl/items/export.csv?name=shop")
    header = text.splitlines()[0].split(",")
    assert header[:2] == ["item_key", "url"] and "fields.url" in header
    row = csv_rows(text)[0]
    assert row["url"] == "http://shop.example/a" and row["fields.url"] == "http://elsewhere/"


def test_without_a_spec_the_header_has_the_newest_items_fields(client: Client, items_db: ItemsSeed,
                                                              monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CRAWL_SPEC_DIRS", str(tmp_path / "no-specs"))
    items_db.tick("gone-spec", T1, [rec("a", z=1, b=2), rec("b", z=3, c=4)])
    _, text = download(client, "/crawl/items/export.csv?name=gone-spec")
    lines = text.splitlines()
    assert lines[0] == "item_key,url,first_seen,last_seen,last_changed,c,z,other_fields"
    assert {r["item_key"]: r["other_fields"] for r in csv_rows(text)} == {"b": "", "a": '{"b": 2}'}


def test_json_lines_one_object_per_item_as_stored(client: Client, items_db: ItemsSeed) -> None:
    records = [rec(f"k{i}", title=f"<t{i}>", n=i, tags=["x"] * (i % 3), note='q"\n') for i in range(30)]
    items_db.tick("shop", T1, records)
    items_db.tick("shop", T2, [*records[:10], rec("new", title="N")])
    response, text = download(client, "/crawl/items/export.jsonl?name=shop")
    assert response["Content-Type"] == "application/x-ndjson; charset=utf-8"
    lines = text.splitlines()
    assert len(lines) == 31
    objects = [json.loads(line) for line in lines]
    by_key = {o["key"]: o for o in objects}
    assert by_key["k3"] == {"key": "k3", "url": "http://shop.example/k3", "first_seen": "2026-01-01T07:00:00Z",
                            "last_seen": "2026-01-01T07:30:00Z", "last_changed": "2026-01-01T07:00:00Z",
                            "fields": {"title": "<t3>", "n": 3, "tags": [], "note": 'q"\n'}}
    assert by_key["k20"]["last_seen"] == "2026-01-01T07:00:00Z"
    assert objects[0]["key"] == "new"  # newest change first, as the items page


@pytest.mark.parametrize(("query", "expected"), [
    ("", lambda k, i: True),
    ("&show=unchanged", lambda k, i: i % 4 == 0),  # ordered: keyset chunks
    ("&show=gone", lambda k, i: i % 4 == 1),  # not ordered by an index: windows over the crawl
    ("&q=needle", lambda k, i: i % 5 == 0),  # a search: windows over the filter
    ("&show=seen&q=needle", lambda k, i: i % 5 == 0 and i % 4 != 1),
])
def test_an_export_in_small_chunks_has_every_item_once_in_order(
    client: Client, items_db: ItemsSeed, monkeypatch: pytest.MonkeyPatch, query: str, expected,  # noqa: ANN001
) -> None:
    def first(i: int) -> dict:
        return rec(f"k{i:03d}", v=0, title="needle" if i % 5 == 0 else "hay")

    items_db.tick("shop", T1, [first(i) for i in range(97)])
    # T2: i % 4 == 0 unchanged, 1 gone, 2 and 3 changed
    items_db.tick("shop", T2, [first(i) if i % 4 == 0 else {**first(i), "fields": {**first(i)["fields"], "v": 1}}
                               for i in range(97) if i % 4 != 1])
    items_db.tick("other", T2, [rec("k001", title="needle")])  # another crawl's items stay out
    monkeypatch.setattr(queries, "EXPORT_CHUNK", 7)
    _, text = download(client, "/crawl/items/export.jsonl?name=shop" + query)
    got = [json.loads(line)["key"] for line in text.splitlines()]
    rows = sorted(CrawlItem.objects.filter(crawl="shop"), key=lambda r: (r.last_changed, r.id), reverse=True)
    want = [r.item_key for r in rows if expected(r.item_key, int(r.item_key[1:]))]
    assert got == want and len(want) > 14  # more than two chunks


def test_a_tick_export_the_latest_from_the_db_an_older_from_its_file(
    client: Client, items_db: ItemsSeed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spec_dir: Path,
) -> None:
    data = tmp_path / "data"
    monkeypatch.setenv("CRAWL_DATA_DIR", str(data))
    first = [rec("a", title="A", price=1.0), rec("b", title="B", price=2.0), rec("a", title="A2", price=1.5)]
    items_db.tick("shop", T1, first)
    items_db.write_file(data, "shop", T1, first)
    items_db.tick("shop", T2, [rec("b", title="B", price=3.0), rec("c", title="C")])
    _, latest = download(client, "/crawl/tick/export.csv?name=shop&at=2026-01-01T07:30")
    assert [(r["item_key"], r["price"], r["last_seen"]) for r in csv_rows(latest)] == [
        ("c", "", "2026-01-01T07:30:00Z"), ("b", "3.0", "2026-01-01T07:30:00Z")]
    response, older = download(client, "/crawl/tick/export.csv?name=shop&at=2026-01-01T07:00")
    assert response["Content-Disposition"] == 'attachment; filename="shop-2026-01-01T0700.csv"'
    # As parsed then, in file order, the duplicate key too; no record times (the file has none).
    assert [(r["item_key"], r["title"], r["price"], r["first_seen"]) for r in csv_rows(older)] == [
        ("a", "A", "1.0", ""), ("b", "B", "2.0", ""), ("a", "A2", "1.5", "")]
    _, older_lines = download(client, "/crawl/tick/export.jsonl?name=shop&at=2026-01-01T07:00")
    assert json.loads(older_lines.splitlines()[1]) == {"key": "b", "url": "http://shop.example/b", "first_seen": None,
                                                       "last_seen": None, "last_changed": None,
                                                       "fields": {"title": "B", "price": 2.0}}
    (data / "shop" / "20260101T0700Z" / "parse" / "items.jsonl").unlink()
    missing = client.get("/crawl/tick/export.csv?name=shop&at=2026-01-01T07:00")
    assert missing.status_code == 404 and b"is not on this host" in missing.content
    assert client.get("/crawl/tick/export.csv?name=shop&at=2026-01-01T07:01").status_code == 404
    assert client.get("/crawl/tick/export.xlsx?name=shop&at=2026-01-01T07:30").status_code == 404


def test_an_export_with_a_filter_it_does_not_understand_is_refused(client: Client, items_db: ItemsSeed) -> None:
    items_db.tick("shop", T1, [rec("a")])
    response = client.get("/crawl/items/export.csv?name=shop&show=everything&tick=now")
    assert response.status_code == 400 and response.content == b"Some filter values were not understood: show, tick"
    assert client.get("/crawl/items/export.csv").status_code == 404  # no crawl named
