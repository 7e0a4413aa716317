"""The join of PriceComparison as a pure function: keys, duplicates, missing and odd prices."""

from __future__ import annotations

from decimal import Decimal

from pipelines.workflows.compare import compare, join_key, money
from pipelines.workflows.ticks import Item, TickItems


def items(*rows: tuple[str, dict]) -> TickItems:
    return TickItems.of(Item(key, f"http://shop/{key}", fields) for key, fields in rows)


def test_pairs_carry_both_prices_and_an_exact_difference() -> None:
    left = items(("a", {"upc": "1", "price": 17.44, "title": "A"}), ("b", {"upc": "2", "price": 0.1}))
    right = items(("x", {"upc": "1", "price": 20.5, "title": "A'"}), ("y", {"upc": "2", "price": 0.3}))
    result = compare(left, right, "upc", "price", ["title"])
    assert result.matched == [
        ["1", 17.44, 20.5, 3.06, 17.55, "A", "A'", "http://shop/a", "http://shop/x"],
        ["2", 0.1, 0.3, 0.2, 200.0, None, None, "http://shop/b", "http://shop/y"],  # not 0.19999999999999998
    ]
    assert result.counts["cheaper_left"] == 2 and result.counts["cheaper_right"] == 0


def test_keys_of_one_side_only_are_listed_and_counted() -> None:
    left = items(("a", {"upc": "1", "price": 1}), ("b", {"upc": "2", "price": 2}))
    right = items(("c", {"upc": "2", "price": 2}), ("d", {"upc": "3", "price": 3}))
    result = compare(left, right, "upc", "price", [])
    assert result.left_only == [["1", 1, "http://shop/a"]]
    assert result.right_only == [["3", 3, "http://shop/d"]]
    counts = result.counts
    assert (counts["matched"], counts["only_left"], counts["only_right"], counts["same_price"]) == (1, 1, 1, 1)


def test_items_without_a_usable_key_are_counted_not_joined() -> None:
    left = items(("a", {"upc": "", "price": 1}), ("b", {"price": 1}), ("c", {"upc": ["1"], "price": 1}),
                 ("d", {"upc": True, "price": 1}), ("e", {"upc": " 7 ", "price": 1}))
    right = items(("f", {"upc": "7", "price": 1}))
    result = compare(left, right, "upc", "price", [])
    assert result.counts["no_key"] == {"left": 4, "right": 0}
    assert [row[0] for row in result.matched] == ["7"]  # white space trimmed


def test_a_key_twice_on_one_side_keeps_the_first_item_by_item_key() -> None:
    left = items(("b", {"upc": "1", "price": 2}), ("a", {"upc": "1", "price": 1}))
    right = items(("c", {"upc": "1", "price": 1}))
    result = compare(left, right, "upc", "price", [])
    assert result.counts["duplicate_keys"] == {"left": 1, "right": 0}
    assert result.matched[0][1] == 1 and result.matched[0][-2] == "http://shop/a"


def test_a_price_that_is_no_number_leaves_the_difference_empty() -> None:
    left = items(("a", {"upc": "1", "price": "call us"}), ("b", {"upc": "2", "price": None}),
                 ("c", {"upc": "3", "price": "12.50"}), ("d", {"upc": "4", "price": 0}))
    right = items(("e", {"upc": "1", "price": 3}), ("f", {"upc": "2", "price": 3}), ("g", {"upc": "3", "price": 10}),
                  ("h", {"upc": "4", "price": 5}))
    result = compare(left, right, "upc", "price", [])
    assert [(row[3], row[4]) for row in result.matched] == [(None, None), (None, None), (-2.5, -20.0), (5, None)]
    assert result.counts["unpriced"] == 2


def test_money_reads_numbers_and_numeric_text_only() -> None:
    assert money(17.44) == Decimal("17.44") and money(" 3 ") == Decimal(3) and money(5) == Decimal(5)
    assert money("nan") is None and money("inf") is None and money(True) is None and money([1]) is None
    assert join_key(Item("k", "u", {"upc": 12}), "upc") == "12"
