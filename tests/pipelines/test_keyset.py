"""The crawl's compact discovered set (pipelines/fetch/keyset.py) and the bounded caches in front of it."""

from __future__ import annotations

from pipelines.fetch.keyset import KeySet, Recent
from pipelines.fetch.links import links_of
from pipelines.fetch.pagework import Unsent


def test_a_key_set_is_an_exact_set_through_its_growth() -> None:
    keys = [f"http://shop.example/product/item-{i}.html" for i in range(50_000)]
    ks = KeySet()
    assert all(ks.add(k) for k in keys[::2])  # every first add is new
    assert len(ks) == 25_000
    assert not any(ks.add(k) for k in keys[::2])  # a second add is not
    assert all(k in ks for k in keys[::2])
    assert not any(k in ks for k in keys[1::2])
    assert "http://shop.example/product/item-0.html?" not in ks and 7 not in ks
    assert len(ks) == 25_000


def test_a_key_set_costs_12_bytes_a_slot_at_most_half_full() -> None:
    ks = KeySet()
    for i in range(100_000):
        ks.add(f"k{i}")
    assert 100_000 * 2 <= ks.nbytes // 12 <= 100_000 * 4


def test_recent_forgets_the_oldest_generation_only() -> None:
    recent = Recent(size=3)
    for url in "abc":
        recent.put(url, url.upper())
    recent.put("d", "D")  # a new generation: a, b, c are the old one
    assert recent.get("a") == "A"  # found in the old one and kept
    for url in "efg":
        recent.put(url, url.upper())
    assert recent.get("b") is None and recent.get("c") is None
    assert recent.get("a") == "A" and recent.get("g") == "G"


def test_unsent_forgets_links_it_has_not_seen_for_a_generation(monkeypatch) -> None:
    monkeypatch.setattr(Unsent, "GENERATION", 4)
    unsent = Unsent()
    assert unsent(["nav", "a", "b"], 1) == ["nav", "a", "b"]
    assert unsent(["nav", "c", "d"], 1) == ["c", "d"]
    assert unsent(["nav", "e", "f"], 1) == ["e", "f"]  # nav, on every page, is remembered across generations
    assert unsent(["nav", "g", "h"], 1) == ["g", "h"]
    # a was seen two generations ago: sent again (the coordinator drops repeats), never lost
    assert unsent(["a", "nav"], 1) == ["a"]
    assert unsent(["nav"], 0) == ["nav"]  # closer to the start: sent again


def test_the_link_memo_stays_bounded_and_right() -> None:
    import lxml.html

    memo: Recent = Recent(10)
    for page in range(30):
        body = "".join(f'<a href="/p/{page}-{i}.html">x</a>' for i in range(8)) + '<a href="../menu.html">m</a>'
        body += '<a href="javascript:void(0)">j</a><a href="http://[bad">b</a>'
        root = lxml.html.document_fromstring(body)
        got = links_of(root, f"http://s.example/c/page-{page}.html", memo)
        assert got == links_of(root, f"http://s.example/c/page-{page}.html")
        assert len(memo) <= 2 * 10
