"""The items DB: crawled items, upserted by key, and each tick's marker row.

StoreItems writes a tick's items and its marker in ONE transaction, so a
crash leaves either both or neither (Luigi's contrib.sqla.CopyToTable commits
them separately and duplicates data on rerun). Works on SQLite, PostgreSQL
and MySQL/MariaDB through SQLAlchemy Core; items are keyed by crawl and a
SHA-1 of the item key, so keys of any length fit a unique index on MySQL.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import luigi
import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.engine import Connection, Engine

from pipelines.quality import RECENT_TICKS

metadata = sa.MetaData()
# MySQL's TEXT holds 64 KiB; an item or a URL may be longer.
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql")

items = sa.Table(
    "crawl_items", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("crawl", sa.String(100), nullable=False),
    sa.Column("key_hash", sa.String(40), nullable=False),
    sa.Column("item_key", LongText, nullable=False),
    sa.Column("url", LongText, nullable=False),
    sa.Column("data", LongText, nullable=False),
    sa.Column("content_hash", sa.String(40), nullable=False),
    sa.Column("first_seen", sa.DateTime, nullable=False),
    sa.Column("last_seen", sa.DateTime, nullable=False),
    sa.Column("last_changed", sa.DateTime, nullable=False),
    sa.UniqueConstraint("crawl", "key_hash", name="uq_crawl_items_key"),
    # webmon's items browser (webmon/items/queries.py): a crawl's items newest change first, keyset on
    # (last_changed, id); those seen in a tick (last_seen = T) or first seen in one (first_seen = T) in
    # the same order. Keys, URLs and data are not indexed: they may be longer than an index entry allows.
    sa.Index("ix_crawl_items_changed", "crawl", "last_changed", "id"),
    sa.Index("ix_crawl_items_seen", "crawl", "last_seen", "last_changed", "id"),
    sa.Index("ix_crawl_items_first", "crawl", "first_seen", "last_changed", "id"),
)

markers = sa.Table(
    "crawl_markers", metadata,
    sa.Column("crawl", sa.String(100), primary_key=True),
    sa.Column("at", sa.DateTime, primary_key=True),
    sa.Column("stored_at", sa.DateTime, nullable=False),
    sa.Column("items", sa.Integer, nullable=False),
    sa.Column("new", sa.Integer, nullable=False),
    sa.Column("changed", sa.Integer, nullable=False),
    sa.Column("unchanged", sa.Integer, nullable=False),
)

# Each tick's data-quality report (pipelines/quality.py), written in the transaction of its items and
# marker: RunCrawl judges a stored tick from it, and a rerun sees what the first run measured.
tick_quality = sa.Table(
    "crawl_tick_quality", metadata,
    sa.Column("crawl", sa.String(100), primary_key=True),
    sa.Column("at", sa.DateTime, primary_key=True),
    sa.Column("report", LongText, nullable=False),  # JSON: items, coverage, baseline, schema
)

_engines: dict[str, Engine] = {}


def create_tables(engine: Engine) -> None:
    """Create the items tables if missing, and their indexes (also on tables an older version created).

    Two workers starting at once on a new items DB may both see the tables
    missing; the loser's CREATE fails ("table crawl_markers already exists"),
    which is fine when the tables are there afterwards. The same goes for an
    index. On an items DB from before the browser's indexes the first worker
    builds them (a plain CREATE INDEX: on PostgreSQL writes to crawl_items wait
    for it, seconds per million items).
    """
    try:
        metadata.create_all(engine)
    except sa.exc.DatabaseError:
        inspector = sa.inspect(engine)
        if not all(inspector.has_table(t.name) for t in metadata.sorted_tables):
            raise
    existing = {ix["name"] for ix in sa.inspect(engine).get_indexes(items.name)}
    for index in sorted(items.indexes, key=lambda ix: str(ix.name)):
        if index.name in existing:
            continue
        try:
            index.create(engine)
        except sa.exc.DatabaseError:
            if index.name not in {ix["name"] for ix in sa.inspect(engine).get_indexes(items.name)}:
                raise


def engine_for(url: str) -> Engine:
    """One engine per URL per process, with its tables created."""
    engine = _engines.get(url)
    if engine is None:
        engine = sa.create_engine(url, future=True, pool_pre_ping=True)
        create_tables(engine)
        _engines[url] = engine
    return engine


def _utc_naive(value: datetime) -> datetime:
    # DateTime columns are naive; every value stored here is UTC.
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def canonical(data: dict[str, Any]) -> str:
    return json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


@dataclass
class StoreCounts:
    items: int = 0
    new: int = 0
    changed: int = 0
    unchanged: int = 0
    duplicates: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"items": self.items, "new": self.new, "changed": self.changed,
                "unchanged": self.unchanged, "duplicates": self.duplicates}


def store_items(engine: Engine, crawl: str, at: datetime, records: Iterable[dict[str, Any]],
                batch_size: int = 500,
                report: Callable[[StoreCounts, list[int]], dict[str, Any]] | None = None) -> StoreCounts:
    """Upsert a tick's items and write its marker, all in one transaction.

    `records` are {"key", "url", "fields"} dicts (ParsePages' items.jsonl).
    `report(counts, recent)` makes the tick's quality report (stored in the same transaction) from the
    counts and the item counts of the crawl's RECENT_TICKS stored ticks before this one, newest first.
    """
    at = _utc_naive(at)
    now = _utc_naive(datetime.now(UTC))
    counts = StoreCounts()
    with engine.begin() as conn:
        batch: dict[str, tuple[dict[str, Any], str]] = {}
        for record in records:
            data = canonical(record["fields"])
            key_hash = sha1(record["key"])
            if key_hash in batch:
                counts.duplicates += 1
            batch[key_hash] = (record, data)
            if len(batch) >= batch_size:
                _upsert(conn, crawl, at, now, batch, counts)
                batch = {}
        if batch:
            _upsert(conn, crawl, at, now, batch, counts)
        if report is not None:
            made = report(counts, recent_counts(conn, crawl, at))
            conn.execute(tick_quality.delete().where(tick_quality.c.crawl == crawl, tick_quality.c.at == at))
            conn.execute(tick_quality.insert().values(crawl=crawl, at=at, report=canonical(made)))
        conn.execute(markers.insert().values(
            crawl=crawl, at=at, stored_at=now, **{k: v for k, v in counts.as_dict().items() if k != "duplicates"},
        ))
    return counts


def _upsert(conn: Connection, crawl: str, at: datetime, now: datetime,
            batch: dict[str, tuple[dict[str, Any], str]], counts: StoreCounts) -> None:
    existing = dict(conn.execute(
        sa.select(items.c.key_hash, items.c.content_hash)
        .where(items.c.crawl == crawl, items.c.key_hash.in_(list(batch)))
    ).all())
    inserts, changes, same = [], [], []
    for key_hash, (record, data) in batch.items():
        content_hash = sha1(data)
        old = existing.get(key_hash)
        if old is None:
            inserts.append({
                "crawl": crawl, "key_hash": key_hash, "item_key": record["key"], "url": record["url"],
                "data": data, "content_hash": content_hash, "first_seen": at, "last_seen": at,
                "last_changed": at,
            })
        elif old != content_hash:
            changes.append({"b_key": key_hash, "b_url": record["url"], "b_data": data, "b_hash": content_hash})
        else:
            same.append(key_hash)
    if inserts:
        conn.execute(items.insert(), inserts)
    if changes:
        conn.execute(
            items.update()
            .where(items.c.crawl == crawl, items.c.key_hash == sa.bindparam("b_key"))
            .values(url=sa.bindparam("b_url"), data=sa.bindparam("b_data"),
                    content_hash=sa.bindparam("b_hash"), last_seen=at, last_changed=at),
            changes,
        )
    if same:
        conn.execute(
            items.update().where(items.c.crawl == crawl, items.c.key_hash.in_(same)).values(last_seen=at)
        )
    counts.items += len(batch)
    counts.new += len(inserts)
    counts.changed += len(changes)
    counts.unchanged += len(same)


def recent_counts(conn: Connection, crawl: str, at: datetime, n: int = RECENT_TICKS) -> list[int]:
    """Item counts of the crawl's newest `n` stored ticks before `at` (the primary key's range), newest first."""
    rows = conn.execute(sa.select(markers.c["items"]).where(markers.c.crawl == crawl, markers.c.at < _utc_naive(at))
                        .order_by(markers.c.at.desc()).limit(n))
    return [int(r[0]) for r in rows]


def read_quality(engine: Engine, crawl: str, at: datetime) -> dict[str, Any] | None:
    """The tick's stored quality report, or None (a tick stored before reports existed)."""
    with engine.connect() as conn:
        text = conn.execute(sa.select(tick_quality.c.report).where(
            tick_quality.c.crawl == crawl, tick_quality.c.at == _utc_naive(at))).scalar()
    return json.loads(text) if text else None


def marker_exists(engine: Engine, crawl: str, at: datetime) -> bool:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(markers.c.crawl).where(markers.c.crawl == crawl, markers.c.at == _utc_naive(at))
        ).first()
    return row is not None


def read_marker(engine: Engine, crawl: str, at: datetime) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(markers).where(markers.c.crawl == crawl, markers.c.at == _utc_naive(at))
        ).mappings().first()
    return dict(row) if row else None


class MarkerTarget(luigi.Target):
    """Complete when the tick's marker row is in the items DB."""

    def __init__(self, db_url: str, crawl: str, at: datetime) -> None:
        self.db_url = db_url
        self.crawl = crawl
        self.at = at

    def exists(self) -> bool:
        return marker_exists(engine_for(self.db_url), self.crawl, self.at)
