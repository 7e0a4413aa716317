"""A real crawl through the real luigi CLI and luigid, then webmon exports its tick: the CSV matches the items DB
row by row, on SQLite and on PostgreSQL.

Two ticks of the demo site (500 products): the first whole, the second with
max_pages 120 (fewer products: the rest are gone in it). webmon runs in a
subprocess with the luigi.cfg the workers used, so it finds the items DB
([store] db_connection), the spec ([crawl] spec_dirs, for the CSV's columns)
and the tick files ([crawl] data_dir) as it would in production.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from webmon_support import Manage

from pipelines import store
from tests.conftest import DemoSite, Luigid, make_luigid

FIELDS = ["title", "price", "availability", "stock", "tags", "upc", "description"]  # the demo spec's, in order
T1, T2 = "2026-11-21T0730", "2026-11-21T0800"
AT2 = datetime(2026, 11, 21, 8, 0)

FETCH = """
import json
from django.core.management import call_command
from django.test import Client
from django.test.utils import setup_test_environment
from django.contrib.auth.models import User

call_command("migrate", verbosity=0)
setup_test_environment()
client = Client()
client.force_login(User.objects.create_user("u", password="p-not-real-1"))
out = {}
for name, path in [("tick2.csv", "/crawl/tick/export.csv?name=shop&at=2026-11-21T08:00"),
                   ("gone.csv", "/crawl/items/export.csv?name=shop&show=gone"),
                   ("tick1.jsonl", "/crawl/tick/export.jsonl?name=shop&at=2026-11-21T07:30")]:
    r = client.get(path)
    body = b"".join(r.streaming_content) if r.streaming else r.content
    open(%(folder)r + "/" + name, "wb").write(body)
    out[name] = r.status_code
pages = {}
for path in ["/crawl/items/?name=shop", "/crawl/items/?name=shop&show=gone&sort=key", "/crawl/items/?name=shop&q=in+stock",
             "/crawl/tick/?name=shop&at=2026-11-21T08:00", "/crawl/tick/?name=shop&at=2026-11-21T07:30"]:
    r = client.get(path)
    pages[path] = [r.status_code, b'id="banner-items"' in r.content]
out["pages"] = pages
r = client.get("/crawl/tick/?name=shop&at=2026-11-21T08:00")
out["tick2"] = {"gone": r.context["gone_count"], "new": r.context["marker"].new, "items": r.context["marker"].items}
print(json.dumps(out))
"""


def crawl_two_ticks(luigid: Luigid, demo: DemoSite) -> None:
    luigid.write_spec("shop", demo.url)
    for at, extra in ((T1, []), (T2, ["--overrides", json.dumps({"max_pages": 120})])):
        result = luigid.run("RunCrawl", "--crawl", "shop", "--at", at, *extra)
        assert result.returncode == 0, result.stderr[-4000:]


def db_rows(items_url: str, condition) -> list[dict]:  # noqa: ANN001
    engine = sa.create_engine(items_url, future=True)
    t = store.items
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t).where(t.c.crawl == "shop", condition(t))
                            .order_by(t.c.last_changed.desc(), t.c.id.desc())).mappings().all()
    engine.dispose()
    return [dict(r) for r in rows]


def unescape(text: str) -> str:
    """The CSV's guard against formulas undone (a ' before =, +, -, @, tab, CR)."""
    return text[1:] if text[:1] == "'" and text[1:2] in ("=", "+", "-", "@", "\t", "\r") else text


def stamp(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def assert_csv_matches(text: str, rows: list[dict]) -> None:
    """Each CSV row is the DB row in the same place: key, URL, times, each field's value."""
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader)
    assert header == ["item_key", "url", "first_seen", "last_seen", "last_changed", *FIELDS, "other_fields"]
    got = list(reader)
    assert len(got) == len(rows) and rows
    for line, row in zip(got, rows, strict=True):
        cells = dict(zip(header, line, strict=True))
        assert unescape(cells["item_key"]) == row["item_key"] and unescape(cells["url"]) == row["url"]
        assert [cells["first_seen"], cells["last_seen"], cells["last_changed"]] == [
            stamp(row["first_seen"]), stamp(row["last_seen"]), stamp(row["last_changed"])]
        data = json.loads(row["data"])
        for name in FIELDS:
            value, cell = data.get(name), unescape(cells[name])
            if value is None:
                assert cell == "", (row["item_key"], name)
            elif isinstance(value, str):
                assert cell == value, (row["item_key"], name)
            elif isinstance(value, bool | list | dict):
                assert json.loads(cell) == value, (row["item_key"], name)
            else:
                assert float(cell) == value, (row["item_key"], name)
        extra = {k: v for k, v in data.items() if k not in FIELDS}
        assert (json.loads(cells["other_fields"]) if cells["other_fields"] else {}) == extra


def export_and_compare(luigid: Luigid, demo: DemoSite, manage: Manage, folder: Path) -> None:
    crawl_two_ticks(luigid, demo)
    result = manage("shell", "-c", FETCH % {"folder": str(folder)}, env={"LUIGI_CONFIG_PATH": str(luigid.config)})
    assert result.returncode == 0, result.stderr[-3000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["tick2.csv"] == out["gone.csv"] == out["tick1.jsonl"] == 200
    for path, (status, banner) in out["pages"].items():
        assert (status, banner) == (200, False), path

    seen = db_rows(luigid.items_url, lambda t: t.c.last_seen == AT2)  # naive UTC, as StoreItems writes them
    gone = db_rows(luigid.items_url, lambda t: t.c.last_seen < AT2)
    assert 0 < len(seen) < demo.products and len(seen) + len(gone) == demo.products
    assert_csv_matches((folder / "tick2.csv").read_text(encoding="utf-8"), seen)
    assert_csv_matches((folder / "gone.csv").read_text(encoding="utf-8"), gone)
    assert out["tick2"] == {"gone": len(gone), "new": 0, "items": len(seen)}

    # The older tick comes from its file, as ParsePages wrote it: every product, their fields as parsed.
    parsed = [json.loads(line) for line in
              (luigid.data_dir / "shop" / "20261121T0730Z" / "parse" / "items.jsonl").read_text().splitlines()]
    exported = [json.loads(line) for line in (folder / "tick1.jsonl").read_text().splitlines()]
    assert [(e["key"], e["url"], e["fields"]) for e in exported] == [(p["key"], p["url"], p["fields"]) for p in parsed]
    assert len(exported) == demo.products


def test_a_crawled_tick_exports_as_the_items_db_has_it_on_sqlite(
    tmp_path: Path, demo_site: DemoSite, manage: Manage,
) -> None:
    luigid = make_luigid(tmp_path / "stack")
    luigid.start()
    try:
        export_and_compare(luigid, demo_site, manage, tmp_path)
    finally:
        luigid.stop()


@pytest.mark.postgres
def test_a_crawled_tick_exports_as_the_items_db_has_it_on_postgresql(
    tmp_path: Path, demo_site: DemoSite, manage: Manage, postgres_url: str,
) -> None:
    luigid = make_luigid(tmp_path / "stack", items_url=postgres_url)
    luigid.start()
    try:
        export_and_compare(luigid, demo_site, manage, tmp_path)
    finally:
        luigid.stop()

