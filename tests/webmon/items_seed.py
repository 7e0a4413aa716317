"""Writes an items DB the way StoreItems does (pipelines.store.store_items), and a tick's items.jsonl the way
ParsePages does, for the items browser's tests and bench.

    seed = ItemsSeed("sqlite:////tmp/items.db")          # creates the tables and indexes
    seed.tick("shop", datetime(2026, 1, 1, 7, 30, tzinfo=UTC), [rec("a", price=1.5)])
    seed.write_file(data_dir, "shop", at, [rec("a", price=1.5)])
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from pipelines import store

T1 = datetime(2026, 1, 1, 7, 0, tzinfo=UTC)
T2 = datetime(2026, 1, 1, 7, 30, tzinfo=UTC)
T3 = datetime(2026, 1, 1, 8, 0, tzinfo=UTC)


def tick(at: datetime) -> str:
    """A tick as the items browser's URLs name it."""
    return at.strftime("%Y-%m-%dT%H:%M")


def rec(key: str, url: str | None = None, **fields: Any) -> dict[str, Any]:
    """An items.jsonl record."""
    return {"key": key, "url": url if url is not None else f"http://shop.example/{key}", "fields": fields}


def three_ticks(seed: ItemsSeed, crawl: str = "shop") -> None:
    """a: always the same; b: changed in T2; c: gone in T3; d: missing from T2, back in T3; e: new in T2,
    changed in T3; f: new in T3."""
    seed.tick(crawl, T1, [rec("a", p=1), rec("b", p=2), rec("c", p=3), rec("d", p=4)])
    seed.tick(crawl, T2, [rec("a", p=1), rec("b", p=20), rec("c", p=3), rec("e", p=5)])
    seed.tick(crawl, T3, [rec("a", p=1), rec("b", p=20), rec("e", p=50), rec("f", p=6), rec("d", p=4)])


class ItemsSeed:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url, future=True)
        store.create_tables(self.engine)

    def tick(self, crawl: str, at: datetime, records: Iterable[dict[str, Any]]) -> store.StoreCounts:
        return store.store_items(self.engine, crawl, at, records)

    def rows(self, crawl: str) -> list[Any]:
        """Every crawl_items row of `crawl`, as StoreItems left them."""
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(store.items).where(store.items.c.crawl == crawl)).mappings())

    @staticmethod
    def write_file(data_dir: Path, crawl: str, at: datetime, records: Iterable[dict[str, Any]]) -> Path:
        """<data_dir>/<crawl>/<tick>/parse/items.jsonl, as ParsePages writes it."""
        folder = data_dir / crawl / at.astimezone(UTC).strftime("%Y%m%dT%H%MZ") / "parse"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / "items.jsonl"
        with open(path, "w", encoding="utf-8") as out:
            for record in records:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
        return path
