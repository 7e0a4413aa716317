"""The items browser: a crawl's items with filters, search and keyset pages, an item's page, what changed in a
tick. Items are written by StoreItems' own code (pipelines.store.store_items) into a SQLite items DB."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest
from django.test import Client, override_settings
from items_seed import T1, T2, T3, ItemsSeed, rec, three_ticks, tick

from webmon.exceptions import ItemsAreReadOnly
from webmon.items.models import CrawlItem


def keys(response) -> list[str]:  # noqa: ANN001
    return [item.key_head for item in response.context["page"].items]


@pytest.mark.parametrize("path", [
    "/crawl/items/?name=shop", "/crawl/items/1/", "/crawl/tick/?name=shop&at=2026-01-01T08:00",
    "/crawl/items/export.csv?name=shop", "/crawl/tick/export.jsonl?name=shop&at=2026-01-01T08:00",
])
def test_every_page_and_export_needs_a_login(anonymous: Client, items_db: ItemsSeed, path: str) -> None:
    three_ticks(items_db)
    response = anonymous.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_the_crawl_page_links_to_its_items(client: Client, history, items_db: ItemsSeed) -> None:  # noqa: ANN001
    body = client.get("/crawl/?name=a%26b").content.decode()
    assert 'id="crawl-items-link" href="/crawl/items/?name=a%26b"' in body


def test_items_newest_change_first_with_their_times(client: Client, items_db: ItemsSeed) -> None:
    three_ticks(items_db)
    response = client.get("/crawl/items/?name=shop")
    assert response.status_code == 200
    # e and f changed in T3 (f, the newer row, first), b in T2, then a c d from T1 (newest id first).
    assert keys(response) == ["f", "e", "b", "d", "c", "a"]
    body = response.content.decode()
    row = re.search(r'<tr class="item-row" data-item-id="\d+">.*?</tr>', body, re.S).group(0)
    assert '<td class="first-seen"><time datetime="2026-01-01T08:00:00+00:00">2026-01-01 08:00</time>' in row
    assert 'id="items-latest"' in body and "5 items, 1 new, 1 changed, 3 unchanged" in body
    assert 'href="/crawl/tick/?name=shop&amp;at=2026-01-01T08%3A00"' in body


@pytest.mark.parametrize(("query", "expected", "exact"), [
    # the latest tick, T3: everything exact
    ("show=new", ["f"], True),
    ("show=changed", ["e"], True),
    ("show=unchanged", ["b", "d", "a"], True),  # d came back unchanged: StoreItems counted it unchanged
    ("show=seen", ["f", "e", "b", "d", "a"], True),
    ("show=gone", ["c"], True),
    ("show=gone_in", ["c"], True),
    # an older tick, T2: what the latest states can say
    (f"show=new&tick={tick(T2)}", ["e"], True),
    (f"show=changed&tick={tick(T2)}", ["b"], False),
    (f"show=unchanged&tick={tick(T2)}", ["c"], False),  # a was unchanged in T2 too, but seen since
    (f"show=seen&tick={tick(T2)}", ["e", "b", "d", "c", "a"], False),  # d was not in T2: seen before and after
    (f"show=gone&tick={tick(T2)}", [], False),  # d was missing from T2, but came back
    (f"show=gone_in&tick={tick(T2)}", [], False),
    (f"show=gone_in&tick={tick(T1)}", [], True),  # the first tick: none gone in it (no tick before)
])
def test_filters_by_what_happened_in_a_tick(client: Client, items_db: ItemsSeed, query: str,
                                            expected: list[str], exact: bool) -> None:
    three_ticks(items_db)
    response = client.get(f"/crawl/items/?name=shop&{query}")
    assert keys(response) == expected
    body = response.content.decode()
    plan = response.context["plan"]
    if plan.empty:
        return
    assert plan.exact is exact
    assert ('id="items-inexact"' in body) is (not exact)


def test_an_unknown_tick_or_choice_is_said_not_guessed(client: Client, items_db: ItemsSeed) -> None:
    three_ticks(items_db)
    body = client.get("/crawl/items/?name=shop&show=new&tick=2026-01-01T07:45").content.decode()
    assert 'id="items-unknown-tick"' in body and 'id="items-empty"' in body
    response = client.get("/crawl/items/?name=shop&show=bogus&tick=yesterday&sort=up")
    assert response.context["errors"] == {"show", "tick", "sort"}
    assert len(keys(response)) == 6  # all items, the latest tick, newest change first


def test_search_in_keys_urls_and_fields(client: Client, items_db: ItemsSeed) -> None:
    items_db.tick("shop", T1, [
        rec("ALPHA-1", title="Red shoe"), rec("beta-2", url="http://shop.example/special/β", title="Blue hat"),
        rec("gamma-3", title='The "quoted" one', note="back\\slash"), rec("delta-4", title="Café crème"),
    ])
    found = {q: keys(client.get("/crawl/items/", {"name": "shop", "q": q})) for q in (
        "alpha", "special/β", "red SHOE", '"quoted"', "back\\slash", "crème", "nothing-like-this")}
    assert found == {"alpha": ["ALPHA-1"], "special/β": ["beta-2"], "red SHOE": ["ALPHA-1"],
                     '"quoted"': ["gamma-3"], "back\\slash": ["gamma-3"], "crème": ["delta-4"],
                     "nothing-like-this": []}


def test_a_search_looks_through_a_window_per_page_and_says_where_it_stopped(
    client: Client, items_db: ItemsSeed,
) -> None:
    base = T1
    for i in range(3):  # 3 ticks of 100 new items; the needle is in the oldest tick only
        at = base + timedelta(minutes=i)
        items_db.tick("shop", at, [rec(f"k{i}-{j}", title="needle" if (i, j) == (0, 7) else "hay") for j in range(100)])
    with override_settings(WEBMON_ITEMS_SCAN_WINDOW=100):
        first = client.get("/crawl/items/", {"name": "shop", "q": "needle"})
        assert keys(first) == []
        body = first.content.decode()
        assert 'id="items-scan-note"' in body and "looks through 100 items per page" in body
        seen, response = [], first
        while response.context["next_query"]:
            seen += keys(response)
            response = client.get("/crawl/items/?" + response.context["next_query"])
        seen += keys(response)
    assert seen == ["k0-7"]


@pytest.mark.parametrize("sort", ["changed", "key"])
def test_keyset_pages_visit_every_item_once_in_order(client: Client, items_db: ItemsSeed, sort: str) -> None:
    # 23 items over three ticks: many share a last_changed (ties broken by id), keys out of id order.
    items_db.tick("shop", T1, [rec(f"k{n:02d}", v=1) for n in (5, 3, 9, 1, 7, 11, 13, 15, 17, 19)])
    items_db.tick("shop", T2, [rec(f"k{n:02d}", v=2) for n in (3, 1, 21, 23, 2, 4)])
    items_db.tick("shop", T3, [rec(f"k{n:02d}", v=3) for n in (9, 6, 8, 10, 12, 14, 16, 18, 20, 22)])
    rows = list(CrawlItem.objects.filter(crawl="shop"))
    if sort == "key":
        expected = [r.item_key for r in sorted(rows, key=lambda r: (r.item_key, r.id))]
    else:
        expected = [r.item_key for r in sorted(rows, key=lambda r: (r.last_changed, r.id), reverse=True)]
    with override_settings(WEBMON_PAGE_SIZE=5):
        seen, query, pages = [], f"name=shop&sort={sort}", 0
        while query:
            response = client.get("/crawl/items/?" + query)
            seen += keys(response)
            pages += 1
            if pages == 2:  # a tick stored between two pages changes nothing already listed or still to come
                items_db.tick("other", T3, [rec("zz", v=1)])
            query = response.context["next_query"]
    assert seen == expected and len(seen) == 23 and pages == 5


@pytest.mark.parametrize("items", [3, 60])
@pytest.mark.parametrize(("query", "on_items"), [
    ("", 2),  # 1. the newest 21 markers (latest tick, tick list) 2. the page (LIMIT 51)
    ("&show=unchanged", 2),
    ("&show=gone", 3),  # sorted: the page's ids from the index entries, then those rows
    ("&q=k1", 3),  # + the search window's far end
    ("&sort=key", 3),  # the page's ids by key, then those rows
    ("&sort=key&q=k", 3),
    (f"&show=changed&tick={tick(T1 + timedelta(minutes=1))}", 3),  # + the marker of a tick older than the newest
    # 21 (and the one before)
    (f"&show=seen&tick={tick(T1 + timedelta(minutes=1))}", 4),  # walked: + that marker, + the window's end
])
def test_its_queries_do_not_grow_with_the_number_of_items(
    client: Client, items_db: ItemsSeed, item_queries, items: int, query: str, on_items: int,  # noqa: ANN001
) -> None:
    items_db.tick("shop", T1, [rec(f"k{i}", v=0) for i in range(items)])
    # 25 ticks: T1 and T1 + 1 are not among the newest 21; the odd items change in T1 + 1, a third of the items
    # are gone in the last
    for n in range(1, 25):
        items_db.tick("shop", T1 + timedelta(minutes=n), [rec(f"k{i}", v=i % 2) for i in range(items)
                                                          if n < 24 or i % 3])
    with item_queries(default=2, items=on_items):  # default: 1. the session 2. the user
        response = client.get(f"/crawl/items/?name=shop{query}")
    assert response.status_code == 200
    assert response.context["page"].items


def test_hostile_item_data_is_escaped_everywhere(client: Client, items_db: ItemsSeed) -> None:
    key = 'k"><script>alert("key")</script>\'&'
    items_db.tick("shop", T1, [rec(key, url="javascript:alert(1)", title="<script>alert('title')</script>",
                                   tags=["<b>bold</b>", '"q"'], **{'"><img src=x onerror=alert(1)>': "field name"})])
    pk = CrawlItem.objects.get(crawl="shop").pk
    pages = {
        "list": client.get("/crawl/items/?name=shop"),
        "search": client.get("/crawl/items/", {"name": "shop", "q": "<script>"}),
        "item": client.get(f"/crawl/items/{pk}/"),
        "tick": client.get(f"/crawl/tick/?name=shop&at={tick(T1)}"),
    }
    for name, response in pages.items():
        body = response.content.decode()
        assert response.status_code == 200, name
        assert "<script>alert" not in body and "<b>bold" not in body and "<img src=x" not in body, name
        assert "&lt;script&gt;alert(" in body, name
    item = pages["item"].content.decode()
    assert 'href="javascript:' not in item  # a URL that is not http(s) is text, not a link
    assert "&lt;b&gt;bold&lt;/b&gt;" in item and "\\&quot;q\\&quot;" in item  # the list field, as pretty JSON
    assert '<tr class="field-row" data-name="&quot;&gt;&lt;img src=x onerror=alert(1)&gt;">' in item
    assert 'id="item-json"' in item and "&quot;title&quot;: &quot;&lt;script&gt;" in item


def test_an_item_page_shows_its_fields_pretty_and_its_state_in_the_latest_tick(
    client: Client, items_db: ItemsSeed,
) -> None:
    three_ticks(items_db)
    items_db.tick("shop", T3 + timedelta(minutes=30), [rec("a", p=1, tags=["x", "y"], size={"w": 2})])
    states = {}
    for row in CrawlItem.objects.filter(crawl="shop"):
        response = client.get(f"/crawl/items/{row.pk}/")
        states[row.item_key] = response.context["status"]
    assert states == {"a": "changed", "b": "gone", "c": "gone", "d": "gone", "e": "gone", "f": "gone"}
    a = CrawlItem.objects.get(crawl="shop", item_key="a")
    body = client.get(f"/crawl/items/{a.pk}/").content.decode()
    assert '<pre class="wrap">[\n  &quot;x&quot;,\n  &quot;y&quot;\n]</pre>' in body
    assert 'id="item-first-seen">2026-01-01 07:00:00 UTC' in body
    assert client.get("/crawl/items/999999/").status_code == 404


def test_what_changed_in_the_latest_tick(client: Client, items_db: ItemsSeed) -> None:
    three_ticks(items_db)
    response = client.get(f"/crawl/tick/?name=shop&at={tick(T3)}")
    assert response.status_code == 200
    ctx = response.context
    assert ctx["is_latest"] is True and ctx["comparison"] is None
    assert [r.key_head for r in ctx["lists"]["new"]["rows"]] == ["f"]
    assert [r.key_head for r in ctx["lists"]["changed"]["rows"]] == ["e"]
    assert [r.key_head for r in ctx["lists"]["gone_in"]["rows"]] == ["c"]
    body = response.content.decode()
    for part in ('id="tick-items">5<', 'id="tick-new">1<', 'id="tick-changed">1<', 'id="tick-unchanged">3<',
                 'id="tick-gone">1<', 'id="tick-export-csv"'):
        assert part in body
    assert client.get("/crawl/tick/?name=shop&at=2026-01-01T08:01").status_code == 404
    assert client.get("/crawl/tick/?name=shop&at=soon").status_code == 404


def test_an_older_tick_gets_its_exact_changes_from_its_files(
    client: Client, items_db: ItemsSeed, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    three_ticks(items_db)
    data = tmp_path / "data"
    monkeypatch.setenv("CRAWL_DATA_DIR", str(data))
    items_db.write_file(data, "shop", T1, [rec("a", p=1), rec("b", p=2), rec("c", p=3), rec("d", p=4)])
    items_db.write_file(data, "shop", T2, [rec("a", p=1), rec("b", p=20), rec("c", p=3), rec("e", p=5)])
    response = client.get(f"/crawl/tick/?name=shop&at={tick(T2)}")
    ctx = response.context
    assert ctx["is_latest"] is False
    # From the items DB: only what nothing happened to since; d's absence from T2 is invisible there.
    assert [r.key_head for r in ctx["lists"]["gone_in"]["rows"]] == []
    body = response.content.decode()
    assert 'id="tick-gone">at least 0<' in body
    comparison = ctx["comparison"]
    assert comparison.state == "ok" and comparison.items == 4
    assert [e["key"] for e in comparison.added.first] == ["e"]
    assert [e["key"] for e in comparison.changed.first] == ["b"]
    assert [e["key"] for e in comparison.gone.first] == ["d"]
    assert "1 not in the tick before (new, or back after a gap), 1 changed, 1 gone" in body
    with override_settings(WEBMON_TICK_FILE_ITEMS=3):
        assert client.get(f"/crawl/tick/?name=shop&at={tick(T2)}").context["comparison"].state == "too_big"
    (data / "shop" / "20260101T0700Z" / "parse" / "items.jsonl").unlink()
    body = client.get(f"/crawl/tick/?name=shop&at={tick(T2)}").content.decode()
    assert 'id="tick-files-missing"' in body and "20260101T0700Z" in body


def test_no_items_db_yet_is_said_without_a_banner(client: Client, items_at, tmp_path: Path) -> None:  # noqa: ANN001
    missing = tmp_path / "nothing" / "items.db"
    with items_at(str(missing)):
        response = client.get("/crawl/items/?name=shop")
        assert response.status_code == 200
        body = response.content.decode()
        assert 'id="items-empty"' in body and "No items are stored yet" in body and "banner-items" not in body
        assert client.get("/crawl/items/export.csv?name=shop").status_code == 404
    assert not missing.exists()  # webmon did not create the items DB


def test_a_broken_items_db_is_a_banner_not_a_500(client: Client, items_at, tmp_path: Path) -> None:  # noqa: ANN001
    broken = tmp_path / "items.db"
    broken.write_bytes(b"this is not a database" * 100)
    with items_at(str(broken)):
        response = client.get("/crawl/items/?name=shop")
        assert response.status_code == 200
        assert 'id="banner-items"' in response.content.decode()
        assert client.get("/crawl/tick/?name=shop&at=2026-01-01T08:00").status_code == 200
        assert client.get("/crawl/items/export.csv?name=shop").status_code == 503


def test_the_items_db_is_read_only(items_db: ItemsSeed) -> None:
    three_ticks(items_db)
    row = CrawlItem.objects.first()
    with pytest.raises(ItemsAreReadOnly):
        row.save()
    with pytest.raises(ItemsAreReadOnly):
        CrawlItem.objects.filter(crawl="shop").update(url="x")
    from django.db import DatabaseError, connections

    with pytest.raises(DatabaseError), connections["items"].cursor() as cursor:
        cursor.execute("DELETE FROM crawl_items")  # the session itself refuses (PRAGMA query_only)


@pytest.mark.parametrize("items", [3, 60])
def test_the_item_and_tick_pages_make_a_fixed_number_of_queries(
    client: Client, items_db: ItemsSeed, item_queries, items: int,  # noqa: ANN001
) -> None:
    items_db.tick("shop", T1, [rec(f"k{i}", v=0) for i in range(items)])
    items_db.tick("shop", T2, [rec(f"k{i}", v=i % 2) for i in range(items) if i % 3])
    pk = CrawlItem.objects.filter(crawl="shop").first().pk
    with item_queries(default=2, items=2):  # the item, the crawl's newest marker
        assert client.get(f"/crawl/items/{pk}/").status_code == 200
    # the newest marker; the tick's and the one before; the first 21 new, changed, gone; the gone count
    with item_queries(default=2, items=6):
        assert client.get(f"/crawl/tick/?name=shop&at={tick(T2)}").status_code == 200
    with item_queries(default=2, items=4):  # the first tick: nothing can be gone in it
        assert client.get(f"/crawl/tick/?name=shop&at={tick(T1)}").status_code == 200
