"""The items DB: upserts count new, changed and unchanged items; marker in the same transaction."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from pipelines.store import engine_for, items, marker_exists, markers, store_items

T1 = datetime(2026, 1, 1, 0, 0)
T2 = datetime(2026, 1, 1, 0, 5)


def rec(key: str, **fields: object) -> dict:
    return {"key": key, "url": f"http://s.example/{key}", "fields": fields}


@pytest.fixture
def engine(tmp_path: Path) -> sa.engine.Engine:
    return engine_for(f"sqlite:///{tmp_path}/items.db")


def test_it_counts_new_changed_and_unchanged_items(engine: sa.engine.Engine) -> None:
    first = store_items(engine, "shop", T1, [rec("a", p=1), rec("b", p=2)], batch_size=1)
    assert (first.new, first.changed, first.unchanged) == (2, 0, 0)
    second = store_items(engine, "shop", T2, [rec("a", p=1), rec("b", p=3), rec("c", p=4)], batch_size=2)
    assert (second.items, second.new, second.changed, second.unchanged) == (3, 1, 1, 1)
    with engine.connect() as conn:
        rows = {r.item_key: r for r in conn.execute(sa.select(items))}
    assert rows["b"].data == '{"p":3}'
    assert rows["b"].last_changed == T2 and rows["a"].last_changed == T1
    assert rows["a"].last_seen == T2
    assert marker_exists(engine, "shop", T1) and marker_exists(engine, "shop", T2)


def test_the_same_key_twice_in_a_tick_keeps_the_last(engine: sa.engine.Engine) -> None:
    counts = store_items(engine, "shop", T1, [rec("a", p=1), rec("a", p=2)])
    assert counts.duplicates == 1 and counts.new == 1
    with engine.connect() as conn:
        assert conn.execute(sa.select(items.c.data)).scalar() == '{"p":2}'


def test_crawls_do_not_share_items(engine: sa.engine.Engine) -> None:
    store_items(engine, "shop", T1, [rec("a", p=1)])
    other = store_items(engine, "other", T1, [rec("a", p=1)])
    assert other.new == 1


def test_a_failure_mid_store_leaves_neither_items_nor_marker(engine: sa.engine.Engine) -> None:
    def records():
        yield rec("a", p=1)
        yield rec("b", p=2)
        raise OSError("disk gone")

    with pytest.raises(OSError):
        store_items(engine, "shop", T1, records(), batch_size=1)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(items)).scalar() == 0
        assert conn.execute(sa.select(sa.func.count()).select_from(markers)).scalar() == 0
    assert not marker_exists(engine, "shop", T1)


def test_long_keys_and_unicode_fit(engine: sa.engine.Engine) -> None:
    key = "k" * 5000
    store_items(engine, "shop", T1, [rec(key, title="Caf\u00e9 \U0001f600")])
    assert store_items(engine, "shop", T2, [rec(key, title="Caf\u00e9 \U0001f600")]).unchanged == 1


def test_a_worker_that_loses_the_race_to_create_the_items_tables_goes_on(tmp_path) -> None:  # noqa: ANN001
    # Another worker created the tables between this one's check and its CREATE.
    import sqlalchemy as sa

    from pipelines import store

    engine = sa.create_engine(f"sqlite:///{tmp_path / 'items.db'}", future=True)
    store.metadata.create_all(engine)
    real = store.metadata.create_all

    def racing(bind, **kw):  # noqa: ANN001, ANN003, ANN202 - what create_all does when it checked too early
        real(bind, checkfirst=False)

    store.metadata.create_all = racing  # type: ignore[method-assign]
    try:
        store.create_tables(engine)  # the CREATE fails, the tables are there: no error
    finally:
        store.metadata.create_all = real  # type: ignore[method-assign]
    assert sa.inspect(engine).has_table("crawl_markers")
