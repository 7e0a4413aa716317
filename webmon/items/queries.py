"""Reads of the items DB, each bounded: pages by keyset, exports in chunks, no count of a whole crawl.

The indexes (pipelines/store.py) and how each read uses them:

- ix_crawl_items_changed (crawl, last_changed, id): a crawl's items newest
  change first, keyset on (last_changed, id); "changed in T" (last_changed = T).
- ix_crawl_items_seen (crawl, last_seen, last_changed, id): "seen in",
  "unchanged in" and "gone in" a tick (last_seen = T or P), in the same order;
  "gone" (last_seen < T) reads its range and sorts it.
- ix_crawl_items_first (crawl, first_seen, last_changed, id): "new in T".
- crawl_markers' primary key (crawl, at): a crawl's ticks, newest first.

A search (key, URL or the fields' JSON text contain a string, any case) has
no index on any backend: a page of it looks through at most `window` items of
its filter (the window's far end is read from the index first, as the runs
list does) and says where it stopped. Ordered by key, a page sorts every item
the filter selects (keys are not indexed: they may be longer than an index
entry allows).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.db import connections, transaction
from django.db.models import Q, QuerySet
from django.db.models.functions import Substr

from webmon.items.filters import ItemFilter, Plan, Ticks, plan
from webmon.items.models import CrawlItem, CrawlMarker
from webmon.routers import ITEMS_ALIAS

HEAD_CHARS = 300  # of keys and URLs on list pages
DATA_HEAD_CHARS = 160  # of the fields' JSON on list pages
TICK_CHOICES = 20  # ticks offered in the items page's tick list
EXPORT_CHUNK = 2000  # rows per query of an export
EXPORT_FIELDS = ("id", "item_key", "url", "data", "first_seen", "last_seen", "last_changed")


@dataclass(frozen=True)
class ItemCursor:
    """A position in an order of items: (last_changed, id) newest first, or by key (the id alone: a key never
    changes, so the cursor row's key is read by a subquery)."""

    last_changed: datetime | None
    id: int

    _FORMAT = "%Y%m%dT%H%M%S.%fZ"

    def encode(self) -> str:
        if self.last_changed is None:
            return f"k{self.id}"
        return f"{self.last_changed.astimezone(UTC).strftime(self._FORMAT)}-{self.id}"

    @classmethod
    def decode(cls, text: str) -> ItemCursor | None:
        if text.startswith("k"):
            return cls(None, int(text[1:])) if text[1:].isdigit() else None
        stamp, _, ident = text.partition("-")
        try:
            return cls(datetime.strptime(stamp, cls._FORMAT).replace(tzinfo=UTC), int(ident))
        except ValueError:
            return None


@dataclass
class ItemPage:
    items: list[Any]
    next: ItemCursor | None  # the next page starts after this
    scanned_to: datetime | None = None  # a search stopped looking at items last changed at this time
    window: int = 0


def _newest_first(qs: QuerySet) -> QuerySet:
    return qs.order_by("-last_changed", "-id")


def _after(qs: QuerySet, c: ItemCursor) -> QuerySet:
    """Rows after `c` in the newest-change-first order; the plain bound lets every backend range-scan the index."""
    return qs.filter(Q(last_changed__lt=c.last_changed) | Q(last_changed=c.last_changed, id__lt=c.id),
                     last_changed__lte=c.last_changed)


def _up_to(qs: QuerySet, c: ItemCursor) -> QuerySet:
    """Rows up to and including `c` (a window's far end) in the newest-change-first order."""
    return qs.filter(Q(last_changed__gt=c.last_changed) | Q(last_changed=c.last_changed, id__gte=c.id),
                     last_changed__gte=c.last_changed)


def _after_key(qs: QuerySet, c: ItemCursor) -> QuerySet:
    key = CrawlItem.objects.filter(pk=c.id).values("item_key")[:1]
    return qs.filter(Q(item_key__gt=key) | Q(item_key=key, id__gt=c.id))


def search_condition(q: str) -> Q:
    """Key, URL or the fields contain `q`, any case. The fields are searched in the JSON text StoreItems
    stored (canonical, non-ASCII as is): as typed (so `"price":1` finds a price of 1) and, when it
    differs, JSON-escaped (so a quote or a backslash inside a value is found too)."""
    condition = Q(item_key__icontains=q) | Q(url__icontains=q) | Q(data__icontains=q)
    escaped = json.dumps(q, ensure_ascii=False)[1:-1]
    if escaped != q:
        condition |= Q(data__icontains=escaped)
    return condition


def listing(qs: QuerySet) -> QuerySet:
    """The columns of a list row; keys, URLs and fields only as their heads."""
    return qs.only("id", "crawl", "first_seen", "last_seen", "last_changed").annotate(
        key_head=Substr("item_key", 1, HEAD_CHARS), url_head=Substr("url", 1, HEAD_CHARS),
        data_head=Substr("data", 1, DATA_HEAD_CHARS),
    )


def of_filter(f: ItemFilter, p: Plan) -> QuerySet:
    return CrawlItem.objects.filter(crawl=f.crawl).filter(p.where)


# -- ticks ---------------------------------------------------------------------------


def newest_markers(crawl: str, n: int) -> list[CrawlMarker]:
    return list(CrawlMarker.objects.filter(crawl=crawl).order_by("-at")[:n])


def markers_up_to(crawl: str, at: datetime, n: int = 2) -> list[CrawlMarker]:
    """The marker of tick `at` (when stored) and the ones before it, newest first."""
    return list(CrawlMarker.objects.filter(crawl=crawl, at__lte=at).order_by("-at")[:n])


def resolve_ticks(f: ItemFilter, newest: list[CrawlMarker]) -> tuple[Ticks, list[CrawlMarker]]:
    """The filter's ticks from the crawl's newest markers (TICK_CHOICES + 1 of them), with at most one more query
    when the tick asked for is older than those. Returns the ticks and the markers to offer."""
    latest = newest[0].at if newest else None
    offered = newest[:TICK_CHOICES]
    if latest is None:
        return Ticks(None, None, None, known=f.tick is None), offered
    t = f.tick or latest
    ats = [m.at for m in newest]
    if t in ats:
        i = ats.index(t)
        if i + 1 < len(ats):
            return Ticks(latest, t, ats[i + 1]), offered
        if len(newest) <= TICK_CHOICES:  # every tick was read: T is the first one
            return Ticks(latest, t, None), offered
    around = markers_up_to(f.crawl, t)
    if not around or around[0].at != t:
        return Ticks(latest, t, None, known=False), offered
    if t not in ats:
        offered = [*offered, around[0]]  # the tick asked for stays selectable
    return Ticks(latest, t, around[1].at if len(around) > 1 else None), offered


# -- a page of items ---------------------------------------------------------------


def item_page(f: ItemFilter, p: Plan, *, after: ItemCursor | None, size: int, window: int) -> ItemPage:
    """One page of the filter's items. Queries: 1, or 2 with a search ordered by change (the window's end first)."""
    if p.empty:
        return ItemPage([], None)
    base = of_filter(f, p)
    if f.sort == "key":
        qs = base.filter(search_condition(f.q)) if f.q else base
        if after is not None:
            qs = _after_key(qs, after)
        rows = list(listing(qs.order_by("item_key", "id"))[: size + 1])
        more = len(rows) > size
        rows = rows[:size]
        return ItemPage(rows, ItemCursor(None, rows[-1].id) if more else None)
    if after is not None and after.last_changed is not None:
        base = _after(base, after)
    matching, edge = base, None
    if f.q:
        # The window's far end, read from the filter's index (no row is read); this page looks no further.
        found = list(_newest_first(base).values_list("last_changed", "id")[window - 1 : window])
        if found:
            edge = ItemCursor(*found[0])
            matching = _up_to(matching, edge)
        matching = matching.filter(search_condition(f.q))
    rows = list(listing(_newest_first(matching))[: size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if more:
        return ItemPage(rows, ItemCursor(rows[-1].last_changed, rows[-1].id))
    # The window ended the page: the next one continues past its end.
    return ItemPage(rows, edge, edge.last_changed if edge else None, window if edge else 0)


def item(pk: int) -> CrawlItem | None:
    return CrawlItem.objects.filter(pk=pk).first()


# -- what changed in a tick ----------------------------------------------------------


def first_of(f: ItemFilter, ticks: Ticks, n: int) -> tuple[list[Any], Plan]:
    """The newest `n` items of a filter (a tick page's list), and its plan."""
    p = plan(f, ticks)
    if p.empty:
        return [], p
    return list(listing(_newest_first(of_filter(f, p)))[:n]), p


def count_of(f: ItemFilter, ticks: Ticks) -> int | None:
    """How many items a filter selects: for the ordered (index range) filters only, else None."""
    p = plan(f, ticks)
    if p.empty:
        return 0
    if not p.ordered:
        return None
    return of_filter(f, p).count()


# -- exports ---------------------------------------------------------------------------


def export_rows(f: ItemFilter, p: Plan, chunk: int | None = None) -> Iterator[list[tuple[Any, ...]]]:
    """Every item of the filter, newest change first, as lists of EXPORT_FIELDS tuples (one per query).

    Bounded whatever the filter: an ordered filter without search reads `chunk` rows per query by
    keyset; any other (a search, "gone", "seen" in an older tick) walks an ordered range in windows
    of `chunk` index entries (the window's end read from the index first) and reads the rows of
    each window that match, so the whole export is one pass over the range. The sort of a page is
    not used: an export is always newest change first.
    """
    chunk = chunk or EXPORT_CHUNK
    if p.empty:
        return
    matching = of_filter(f, p)
    if f.q:
        matching = matching.filter(search_condition(f.q))
    if p.ordered and not f.q:
        cursor = None
        while True:
            qs = _after(matching, cursor) if cursor else matching
            rows = list(_newest_first(qs).values_list(*EXPORT_FIELDS)[:chunk])
            if rows:
                yield rows
            if len(rows) < chunk:
                return
            cursor = ItemCursor(rows[-1][6], rows[-1][0])
    walked = of_filter(f, p) if p.ordered else CrawlItem.objects.filter(crawl=f.crawl)
    cursor = None
    while True:
        range_qs = _after(walked, cursor) if cursor else walked
        found = list(_newest_first(range_qs).values_list("last_changed", "id")[chunk - 1 : chunk])
        edge = ItemCursor(*found[0]) if found else None
        qs = _after(matching, cursor) if cursor else matching
        if edge is not None:
            qs = _up_to(qs, edge)
        rows = list(_newest_first(qs).values_list(*EXPORT_FIELDS))  # at most `chunk`: one window's rows
        if rows:
            yield rows
        if edge is None:
            return
        cursor = edge


@contextmanager
def snapshot() -> Iterator[None]:
    """One consistent view of the items DB for a whole export, where the database gives one without blocking
    writers: a read-only REPEATABLE READ transaction on PostgreSQL and MariaDB/MySQL, so a tick stored
    meanwhile changes nothing in the file. SQLite (rollback journal) would make StoreItems wait for the
    export's whole duration, so there each chunk reads the DB as it is then (docs/webmon.md)."""
    connection = connections[ITEMS_ALIAS]
    if connection.vendor not in ("postgresql", "mysql"):
        yield
        return
    if connection.vendor == "mysql":
        with connection.cursor() as cursor:  # applies to the next transaction, the one atomic() starts
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
    with transaction.atomic(using=ITEMS_ALIAS):
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield
