"""The items browser's indexes on crawl_items: created with the tables, and on an items DB from before them."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import sqlalchemy as sa

from pipelines import store

BROWSER_INDEXES = {"ix_crawl_items_changed", "ix_crawl_items_seen", "ix_crawl_items_first"}


def indexes(engine: sa.engine.Engine) -> set[str]:
    return {ix["name"] for ix in sa.inspect(engine).get_indexes("crawl_items")}


def test_a_new_items_db_gets_them(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'items.db'}", future=True)
    store.create_tables(engine)
    assert BROWSER_INDEXES <= indexes(engine)


def test_an_items_db_from_before_them_gets_them_and_keeps_its_items(tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'items.db'}", future=True)
    store.create_tables(engine)
    store.store_items(engine, "shop", datetime(2026, 1, 1), [{"key": "a", "url": "u", "fields": {"p": 1}}])
    with engine.begin() as conn:  # as an older version left it
        for name in BROWSER_INDEXES:
            conn.exec_driver_sql(f"DROP INDEX {name}")
    assert not BROWSER_INDEXES & indexes(engine)
    store.create_tables(engine)  # what every worker runs first (engine_for)
    assert BROWSER_INDEXES <= indexes(engine)
    counts = store.store_items(engine, "shop", datetime(2026, 1, 2), [{"key": "a", "url": "u", "fields": {"p": 1}}])
    assert counts.unchanged == 1


def test_a_worker_that_loses_the_race_to_create_an_index_goes_on(tmp_path: Path, monkeypatch) -> None:  # noqa: ANN001
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'items.db'}", future=True)
    store.create_tables(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("DROP INDEX ix_crawl_items_seen")
    real = sa.inspect

    class Stale:  # the inspection another worker's CREATE INDEX beat: it still misses the index
        def __init__(self, bind) -> None:  # noqa: ANN001
            self.inspector = real(bind)

        def get_indexes(self, table: str) -> list[dict]:
            found = self.inspector.get_indexes(table)
            with engine.begin() as conn:  # the other worker creates it now
                conn.exec_driver_sql("CREATE INDEX IF NOT EXISTS ix_crawl_items_seen "
                                     "ON crawl_items (crawl, last_seen, last_changed, id)")
            return [ix for ix in found if ix["name"] != "ix_crawl_items_seen"]

        def __getattr__(self, name: str):  # noqa: ANN204
            return getattr(self.inspector, name)

    calls = []

    def inspect(bind):  # noqa: ANN001, ANN202
        calls.append(bind)
        return Stale(bind) if len(calls) == 1 else real(bind)

    monkeypatch.setattr(store.sa, "inspect", inspect)
    store.create_tables(engine)  # its CREATE INDEX fails ("already exists"): the index is there, no error
    monkeypatch.undo()
    assert len(calls) == 2  # the second look, after the failed CREATE, found the index
    assert BROWSER_INDEXES <= indexes(engine)
