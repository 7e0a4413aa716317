"""A tick's items, as the downstream tasks read them.

"A tick's items" are the items that tick parsed: the lines ParsePages wrote
to `<data_dir>/<crawl>/<tick>/parse/items.jsonl` ({"key", "url", "fields"}),
one per item key. When a key comes twice (two URLs, one UPC), the last line
wins, as it does in the items DB. They are returned sorted by key, so two
exports of the same tick are the same bytes whatever order the pages were
fetched in.

Not the items DB: it keeps each item's latest version only (a later tick
overwrites the fields and `last_seen`), so an earlier tick could not be read
back from it. The parse folder is the tick's own record; a tick whose folder
was deleted cannot be exported any more, and says so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipelines.exceptions import WorkflowError
from pipelines.tasks import CrawlTick, ParsePages
from pipelines.workflows.files import tick_name


@dataclass(frozen=True)
class Item:
    key: str
    url: str
    fields: dict[str, Any]


@dataclass(frozen=True)
class TickItems:
    """The items of one tick, one per key, iterated in key order (each iteration reads them again).

    `duplicates` counts lines whose key came again; `names` is every field name the items have.
    """

    count: int
    duplicates: int
    names: frozenset[str]
    iterate: Callable[[], Iterator[Item]]

    def __iter__(self) -> Iterator[Item]:
        return self.iterate()

    def __len__(self) -> int:
        return self.count

    @classmethod
    def of(cls, items: Iterable[Item]) -> TickItems:
        """Items already in memory (tests, hand-made ticks): the last of a key wins, sorted by key."""
        by_key: dict[str, Item] = {}
        lines = 0
        for item in items:
            by_key[item.key] = item
            lines += 1
        ordered = [by_key[key] for key in sorted(by_key)]
        names = frozenset(name for item in ordered for name in item.fields)
        return cls(len(ordered), lines - len(ordered), names, lambda: iter(ordered))

    def field_names(self, declared: Iterable[str] = ()) -> list[str]:
        """The declared fields in their order, then every other field the items have, sorted."""
        names = list(dict.fromkeys(declared))
        return names + sorted(self.names - set(names))


def _item(record: Any) -> Item:
    return Item(str(record["key"]), str(record["url"]), dict(record["fields"]))


def read_tick_items(parse_dir: Path, crawl: str, tick: str) -> TickItems:
    """The items of the tick whose ParsePages output is `parse_dir`."""
    path = parse_dir / "items.jsonl"
    try:
        handle = open(path, "rb")
    except FileNotFoundError:
        raise WorkflowError(
            f"crawl {crawl!r} tick {tick} has no parsed items at {path} (its folder was deleted?); the items DB "
            "keeps only each item's latest version, so this tick cannot be read any more") from None
    offsets: dict[str, int] = {}
    names: set[str] = set()
    lines = offset = 0
    with handle:
        for number, line in enumerate(handle, 1):
            try:
                item = _item(json.loads(line))
            except (ValueError, KeyError, TypeError) as exc:
                raise WorkflowError(f"{path} line {number} is not an item line "
                                    f"({type(exc).__name__}: {exc})") from None
            offsets[item.key] = offset  # the last line of a key wins
            names.update(item.fields)
            lines += 1
            offset += len(line)
    ordered = sorted(offsets.items())

    def iterate() -> Iterator[Item]:
        with open(path, "rb") as fh:
            for _, at in ordered:
                fh.seek(at)
                yield _item(json.loads(fh.readline()))

    return TickItems(len(ordered), lines - len(ordered), frozenset(names), iterate)


def items_of(tick: CrawlTick) -> TickItems:
    """The items of a crawl tick (`RunCrawl(crawl=..., at=...)`, or any task of its chain)."""
    parse_dir = Path(tick.clone(ParsePages).output().path)  # type: ignore[attr-defined]
    return read_tick_items(parse_dir, str(tick.crawl), tick_name(tick.at))
