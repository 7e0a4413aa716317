"""PriceComparison: two crawls' items of one tick, joined on a key field, with both prices.

    python -m luigi --module pipelines.workflows.compare PriceComparison \\
        --left demo --right demo-b --at 2026-11-21T0730 --key upc

Requires both ticks (`RunCrawl` of `left` and of `right` at `at`) and writes
the folder `<data_dir>/exports/<left>+<right>/<tick>/prices-<key>-<variant>/`
(variant: eight hex digits of key, price and fields, so comparisons with
other parameters never share a folder), atomically:

- matched.csv: one row per key found on both sides, sorted by key: `key`,
  `left_price`, `right_price`, `difference` (right - left, exact to the
  penny: computed in decimal), `difference_pct` (of the left price), then
  `left_<f>` and `right_<f>` for each of `fields`, then both URLs;
- left_only.csv, right_only.csv: the keys one side has and the other lacks;
- summary.json: the counts (also the task's run stats) and the parameters.

The key is a field of both crawls' items (`upc`), compared as text with
white space trimmed. An item without it (missing, empty, a list) is counted
in `no_key`; a key a side has twice keeps that side's first item (by item
key) and counts the others in `duplicate_keys`. A price that is not a number
leaves the difference empty and counts the pair in `unpriced`.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import luigi

from pipelines.runs.reclaim import ReclaimFirst
from pipelines.targets import AtomicDirectory
from pipelines.tasks import MinuteParameter, RunCrawl, _setup_logging
from pipelines.workflows.files import exports_dir, pair_name, tick_name, variant
from pipelines.workflows.tables import write_csv
from pipelines.workflows.ticks import Item, TickItems, items_of

log = logging.getLogger("pipelines.workflows.compare")


@dataclass
class Comparison:
    matched: list[list[Any]] = field(default_factory=list)
    left_only: list[list[Any]] = field(default_factory=list)
    right_only: list[list[Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)


def join_key(item: Item, key: str) -> str | None:
    value = item.fields.get(key)
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    text = str(value).strip()
    return text or None


def money(value: Any) -> Decimal | None:
    """A price as a Decimal (from its shortest repr, so 17.44 stays 17.44), or None."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _by_key(items: TickItems, key: str, kept: list[str]) -> tuple[dict[str, Item], int, int]:
    """{join key: item with only the `kept` fields} (a tick is not held whole), no_key, duplicates."""
    found: dict[str, Item] = {}
    no_key = duplicates = 0
    for item in items:  # sorted by item key: the first of a join key is stable
        value = join_key(item, key)
        if value is None:
            no_key += 1
        elif value in found:
            duplicates += 1
        else:
            found[value] = Item(item.key, item.url, {name: item.fields.get(name) for name in kept})
    return found, no_key, duplicates


def compare(left: TickItems, right: TickItems, key: str, price: str, fields: list[str]) -> Comparison:
    """Pairs of items with equal `key`, and the keys of one side only (pure)."""
    kept = [price, *fields]
    lefts, left_no_key, left_dups = _by_key(left, key, kept)
    rights, right_no_key, right_dups = _by_key(right, key, kept)
    result = Comparison()
    unpriced = cheaper_left = cheaper_right = same = 0
    for value in sorted(lefts.keys() & rights.keys()):
        a, b = lefts[value], rights[value]
        pa, pb = money(a.fields.get(price)), money(b.fields.get(price))
        difference = percent = None
        if pa is None or pb is None:
            unpriced += 1
        else:
            difference = pb - pa
            percent = round(difference / pa * 100, 2) if pa else None
            cheaper_left += difference > 0
            cheaper_right += difference < 0
            same += difference == 0
        result.matched.append([
            value, a.fields.get(price), b.fields.get(price), _number(difference), _number(percent),
            *(a.fields.get(f) for f in fields), *(b.fields.get(f) for f in fields), a.url, b.url,
        ])
    for side, mine, theirs in ((result.left_only, lefts, rights), (result.right_only, rights, lefts)):
        for value in sorted(mine.keys() - theirs.keys()):
            item = mine[value]
            side.append([value, item.fields.get(price), *(item.fields.get(f) for f in fields), item.url])
    result.counts = {
        "matched": len(result.matched), "only_left": len(result.left_only), "only_right": len(result.right_only),
        "unpriced": unpriced, "cheaper_left": cheaper_left, "cheaper_right": cheaper_right, "same_price": same,
        "no_key": {"left": left_no_key, "right": right_no_key},
        "duplicate_keys": {"left": left_dups, "right": right_dups},
        "items": {"left": len(left), "right": len(right)},
    }
    return result


def _number(value: Decimal | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if value == value.to_integral_value() and value.as_tuple().exponent >= 0 else float(value)


def matched_columns(fields: list[str]) -> list[str]:
    return ["key", "left_price", "right_price", "difference", "difference_pct",
            *(f"left_{f}" for f in fields), *(f"right_{f}" for f in fields), "left_url", "right_url"]


def one_side_columns(fields: list[str]) -> list[str]:
    return ["key", "price", *fields, "url"]


class PriceComparison(ReclaimFirst, luigi.Task):
    """Two crawls' items of one tick joined on `key`: matched pairs with both prices, and the rest."""

    left = luigi.Parameter(description="The first crawl (a spec name in [crawl] spec_dirs).")
    right = luigi.Parameter(description="The second crawl.")
    at = MinuteParameter(description="The tick both crawls ran, UTC, to the minute.")
    key = luigi.Parameter(default="upc", description="The field both crawls' items are joined on.")
    price = luigi.Parameter(default="price", description="The price field of both crawls.")
    fields = luigi.ListParameter(default=("title",), description="Fields copied from both sides into matched.csv.")

    def requires(self) -> dict[str, RunCrawl]:
        return {"left": RunCrawl(crawl=self.left, at=self.at), "right": RunCrawl(crawl=self.right, at=self.at)}

    def output(self) -> AtomicDirectory:
        digest = variant(self.key, self.price, list(self.fields))
        safe = str(self.key).isascii() and all(c.isalnum() or c in "_.-" for c in str(self.key))
        name = f"prices-{self.key}-{digest}" if safe else f"prices-{digest}"
        runs = self.requires()  # their crawl is the spec's name, also when given as a path
        pair = pair_name(runs["left"].crawl, runs["right"].crawl)
        return AtomicDirectory(str(exports_dir() / pair / tick_name(self.at) / name))

    def run(self) -> None:
        _setup_logging()
        runs = self.requires()
        fields = list(self.fields)
        result = compare(items_of(runs["left"]), items_of(runs["right"]), str(self.key),
                         str(self.price), fields)
        with self.output().temporary_dir() as tmp:
            with open(tmp / "matched.csv", "wb") as out:
                write_csv(out, matched_columns(fields), result.matched)
            for name, rows in (("left_only.csv", result.left_only), ("right_only.csv", result.right_only)):
                with open(tmp / name, "wb") as out:
                    write_csv(out, one_side_columns(fields), rows)
            summary = {"left": runs["left"].crawl, "right": runs["right"].crawl, "at": self.at.isoformat() + "Z",
                       "key": self.key, "price": self.price, "fields": fields, **result.counts}
            (tmp / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        counts = result.counts
        self.set_status_message(f"{counts['matched']:,} matched, {counts['only_left']:,} only in {self.left}, "
                                f"{counts['only_right']:,} only in {self.right}")
        self.run_stats = {**result.counts, "path": self.output().path}
        log.info("comparison stats %s", json.dumps(self.run_stats, sort_keys=True))
