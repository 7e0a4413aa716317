"""What a tick's report says and how [monitors] judge it (pipelines/quality.py), as a table of cases."""

from __future__ import annotations

import pytest

from pipelines.quality import Measure, Monitors, evaluate, judged, non_empty


def record(key: str, **fields: object) -> dict:
    return {"key": key, "url": f"http://shop.example/{key}", "fields": fields}


@pytest.mark.parametrize(("value", "filled"), [(None, False), ("", False), ("  \n", False), ([], False), ({}, False),
                                               (0, True), (0.0, True), (False, True), ("x", True), (["a"], True)])
def test_what_counts_as_non_empty(value: object, filled: bool) -> None:
    assert non_empty(value) is filled


def test_coverage_is_the_share_of_items_with_each_field() -> None:
    measure = Measure(["title", "price", "tags"])
    list(measure.watch([record("a", title="A", price=1.5, tags=[]), record("b", title="B", price=None, tags=["x"]),
                        record("c", title=" ", tags=["y"]), record("d", title="D", price=0, tags=["z"])]))
    report = measure.report(items=4, recent=[8, 2, 6])
    assert report["coverage"] == {"title": 0.75, "price": 0.5, "tags": 0.75}
    assert report["baseline"] == {"median": 6.0, "ticks": 3, "change": -0.3333}
    assert report["schema"] is None and report["read"] == 4


def test_a_tick_without_items_has_no_coverage_and_no_earlier_tick_no_baseline() -> None:
    report = Measure(["title"]).report(items=0, recent=[])
    assert report["coverage"] == {"title": None} and report["baseline"] is None


def test_schema_errors_are_counted_with_the_first_samples() -> None:
    schema = {"type": "object", "required": ["price"], "properties": {"price": {"type": "number", "minimum": 0}}}
    measure = Measure(["price"], schema)
    list(measure.watch([record("ok", price=3), record("neg", price=-1), record("none"), record(f"s{0}", price="1")]))
    report = measure.report(items=4, recent=[])
    assert report["schema"] == {"checked": 4, "invalid": 3, "ratio": 0.75, "samples": [
        "neg: price: -1 is less than the minimum of 0", "none: the item: 'price' is a required property",
        "s0: price: '1' is not of type 'number'"]}


MONITORS = Monitors(min_items=10, max_item_drop=0.3, coverage=(("price", 0.9),), max_invalid_ratio=0.1)


@pytest.mark.parametrize(("report", "broken"), [
    ({"items": 40, "coverage": {"price": 1.0}, "baseline": {"median": 40, "ticks": 5}, "schema": {"ratio": 0.0}}, []),
    ({"items": 9, "coverage": {"price": 1.0}, "baseline": None, "schema": {"ratio": 0.0}}, ["min_items"]),
    ({"items": 27, "coverage": {"price": 1.0}, "baseline": {"median": 40, "ticks": 5}, "schema": {"ratio": 0.0}},
     ["max_item_drop"]),  # 32.5% fewer
    ({"items": 28, "coverage": {"price": 1.0}, "baseline": {"median": 40, "ticks": 5}, "schema": {"ratio": 0.0}},
     []),  # exactly 30% fewer: allowed
    ({"items": 60, "coverage": {"price": 0.89}, "baseline": {"median": 40, "ticks": 5}, "schema": {"ratio": 0.2}},
     ["max_invalid_ratio", "coverage.price"]),
    ({"items": 0, "coverage": {"price": None}, "baseline": {"median": 0, "ticks": 2}, "schema": {"ratio": 0.0}},
     ["min_items"]),  # nothing to drop from, no share to measure
])
def test_each_monitor_breaks_at_its_limit(report: dict, broken: list[str]) -> None:
    assert [c.monitor for c in evaluate(report, MONITORS) if not c.ok] == broken


def test_the_verdict_follows_on_violation() -> None:
    report = {"items": 5, "coverage": {}, "baseline": None, "schema": None}
    assert judged(report, Monitors(min_items=10))["verdict"] == "warn"
    assert judged(report, Monitors(min_items=10, on_violation="fail"))["verdict"] == "fail"
    assert judged(report, Monitors(min_items=5, on_violation="fail"))["verdict"] == "ok"
    assert judged(report, Monitors(min_items=10))["violations"] == ["min_items: 5 items, fewer than 10"]
