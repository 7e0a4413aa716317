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


def rec(key: str, url: str | None = None, **fields: Any) -> dict[str, Any]:
    """An items.jsonl record."""
    return {"key": key, "url": url if url is not None else f"http://shop.example/{key}", "fields": fields}


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
