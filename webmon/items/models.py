"""Unmanaged, read-only models of the items DB: crawl_items and crawl_markers.

The schema is pipelines/store.py (StoreItems writes it; webmon never does).
The items DB keeps each item's LATEST state only: its fields as last stored,
when it was first seen, last seen and last changed (tick times, naive UTC in
the database, aware UTC here). A marker is one stored tick with its counts.
What that lets one say about a tick, exactly or not, is in
webmon/items/filters.py and docs/webmon.md ("Items browser").
"""

from __future__ import annotations

import json
from typing import Any

from django.db import models

from webmon.exceptions import ItemsAreReadOnly
from webmon.history.fields import LuigiTimestampField
from webmon.history.readonly import ReadOnlyModel


class ItemsModel(ReadOnlyModel):
    """Base of models whose table is in the items DB; the router reads the flag."""

    lives_in_items_db = True
    read_only_error = ItemsAreReadOnly
    read_only_sentence = "{name} is in the items DB, which webmon only reads; StoreItems writes it."

    class Meta:
        abstract = True


class CrawlItem(ItemsModel):
    """A row of crawl_items: one item of one crawl (by key), as last stored."""

    id = models.AutoField(primary_key=True)
    crawl = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=40)
    item_key = models.TextField()
    url = models.TextField()
    data = models.TextField()  # the fields as canonical JSON (sorted keys), pipelines.store.canonical
    content_hash = models.CharField(max_length=40)
    first_seen = LuigiTimestampField()
    last_seen = LuigiTimestampField()
    last_changed = LuigiTimestampField()

    class Meta:
        managed = False
        db_table = "crawl_items"

    def __str__(self) -> str:
        return f"{self.crawl} {self.item_key[:80]}"

    def fields(self) -> dict[str, Any] | None:
        """The item's fields, or None when `data` is not a JSON object (nothing StoreItems writes)."""
        try:
            value = json.loads(self.data)
        except ValueError:
            return None
        return value if isinstance(value, dict) else None


class CrawlMarker(ItemsModel):
    """A row of crawl_markers: one tick StoreItems stored, with its counts (exact: written with the items)."""

    pk = models.CompositePrimaryKey("crawl", "at")
    crawl = models.CharField(max_length=100)
    at = LuigiTimestampField()
    stored_at = LuigiTimestampField()
    items = models.IntegerField()
    new = models.IntegerField()
    changed = models.IntegerField()
    unchanged = models.IntegerField()

    class Meta:
        managed = False
        db_table = "crawl_markers"

    def __str__(self) -> str:
        return f"{self.crawl} {self.at:%Y-%m-%d %H:%M}"
