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

from webmon.history.fields import LuigiTimestampField
from webmon.history.sqlfuncs import NoIndex, union_all, union_all_values
from webmon.items.filters import SORTED, WALKED, ItemFilter, Plan, Ticks, plan
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


def ranges(qs: QuerySet, after: ItemCursor | None = None, upto: ItemCursor | None = None) -> list[QuerySet]:
    """`qs` after `after` and up to `upto` (inclusive) in the newest-change-first order, as querysets in that
    order, each of them one seek of a (crawl, last_changed, id) index range.

    Items of one tick share their last_changed by the hundred thousand, and no
    backend seeks `last_changed < c OR (last_changed = c AND id < i)` past the
    part of c's group already read: SQLite and MariaDB scan it from its top
    (a million-item export spent minutes skipping), and row values help on
    PostgreSQL only. Split, each part is an equality and an id range, or a
    plain last_changed range.
    """
    if after is None and upto is None:
        return [qs]
    if after is None:
        return [qs.filter(last_changed__gt=upto.last_changed), qs.filter(last_changed=upto.last_changed, id__gte=upto.id)]
    if upto is None:
        return [qs.filter(last_changed=after.last_changed, id__lt=after.id), qs.filter(last_changed__lt=after.last_changed)]
    if upto.last_changed == after.last_changed:
        return [qs.filter(last_changed=after.last_changed, id__lt=after.id, id__gte=upto.id)]
    return [qs.filter(last_changed=after.last_changed, id__lt=after.id),
            qs.filter(last_changed__lt=after.last_changed, last_changed__gt=upto.last_changed),
            qs.filter(last_changed=upto.last_changed, id__gte=upto.id)]


def _newest_of(parts: list[QuerySet], n: int) -> list[Any]:
    """The newest `n` items of `ranges()` parts, as listing rows, in one query (UNION ALL of the parts' slices)."""
    if len(parts) == 1:
        return list(listing(_newest_first(parts[0]))[:n])
    rows = union_all([listing(_newest_first(part))[:n] for part in parts])
    rows.sort(key=lambda r: (r.last_changed, r.id), reverse=True)
    return rows[:n]


def _sorted_page(parts: list[QuerySet], n: int) -> list[Any]:
    """The newest `n` items of parts an index range selects but does not order: their (last_changed, id)
    entries sorted by the database (index-only: ix_crawl_items_seen covers them), then those rows."""
    field = CrawlItem._meta.get_field("last_changed")
    found = union_all_values([_newest_first(part).values_list("last_changed", "id")[:n] for part in parts])
    entries = sorted(((field.from_db_value(lc, None, connections[ITEMS_ALIAS]), i) for lc, i in found),
                     reverse=True)[:n]
    ids = [i for _, i in entries]
    return sorted(listing(CrawlItem.objects.filter(id__in=ids)), key=lambda r: (r.last_changed, r.id), reverse=True)


def _edge(parts: list[QuerySet], n: int) -> ItemCursor | None:
    """The n-th entry of `ranges()` parts in the newest-change-first order, read from their index (no row), in one
    query; None when they hold fewer than n."""
    found = union_all_values([_newest_first(part).values_list("last_changed", "id")[:n] for part in parts])
    if len(found) < n:
        return None
    field = CrawlItem._meta.get_field("last_changed")
    entries = sorted(((field.from_db_value(lc, None, connections[ITEMS_ALIAS]), i) for lc, i in found), reverse=True)
    return ItemCursor(*entries[n - 1])


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


NOINDEX_ALIASES = ("first_seen", "last_seen")


def _of_crawl(crawl: str) -> QuerySet:
    """A crawl's items, with `<column>_noindex` aliases: the column, which SQLite's planner cannot pick an index
    for (`+column`; it has no statistics to tell a narrow range from a wide one)."""
    hidden = {f"{c}_noindex": NoIndex(c, output_field=LuigiTimestampField()) for c in NOINDEX_ALIASES}
    return CrawlItem.objects.filter(crawl=crawl).alias(**hidden)


def of_filter(f: ItemFilter, p: Plan) -> QuerySet:
    return _of_crawl(f.crawl).filter(p.where)


def of_walk(f: ItemFilter, p: Plan) -> QuerySet:
    """The filter's items for a walk of the crawl's (crawl, last_changed, id) index (Plan.walk_where)."""
    return _of_crawl(f.crawl).filter(p.walk_where if p.walk_where is not None else p.where)


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
    """One page of the filter's items.

    Queries: 1 for an ordered filter (the UNION ALL of its ranges() parts after the cursor, each sliced
    to the page); + 1 with a search or a walked filter (the window's far end first, from the index);
    + 1 for a sorted filter or by key (the page's ids, sorted from index entries or keys alone, then
    those rows by primary key: a sort of whole rows would read every item's data).
    """
    if p.empty:
        return ItemPage([], None)
    if f.sort == "key":
        qs = of_filter(f, p).filter(search_condition(f.q)) if f.q else of_filter(f, p)
        if after is not None:
            qs = _after_key(qs, after)
        ids = [i for (i,) in qs.order_by("item_key", "id").values_list("id")[: size + 1]]
        rows = sorted(listing(CrawlItem.objects.filter(id__in=ids)), key=lambda r: ids.index(r.id))
        more = len(rows) > size
        rows = rows[:size]
        return ItemPage(rows, ItemCursor(None, rows[-1].id) if more else None)
    after = after if after is not None and after.last_changed is not None else None
    edge = None
    if f.q or p.kind == WALKED:
        # The window's far end, read from the index (no row is read); this page looks no further.
        walked = _of_crawl(f.crawl) if p.kind == WALKED else of_filter(f, p)
        edge = _edge(ranges(walked, after), window)
        matching = of_walk(f, p) if p.kind == WALKED else of_filter(f, p)
        if f.q:
            matching = matching.filter(search_condition(f.q))
    else:
        matching = of_filter(f, p)
    parts = ranges(matching, after, edge)
    rows = _sorted_page(parts, size + 1) if p.kind == SORTED else _newest_of(parts, size + 1)
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


class _Stamps:
    """Raw timestamp values of an export's rows -> ISO text (UTC, Z) and aware datetimes, each worked out once:
    an export's rows share a handful of tick times. Raw: SQLite's text, PostgreSQL's and MySQL's naive datetimes."""

    def __init__(self) -> None:
        self.text: dict[Any, str] = {}
        self.when: dict[Any, datetime] = {}

    def aware(self, raw: Any) -> datetime:
        found = self.when.get(raw)
        if found is None:
            value = datetime.fromisoformat(raw) if isinstance(raw, str) else raw
            found = self.when[raw] = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return found

    def iso(self, raw: Any) -> str:
        found = self.text.get(raw)
        if found is None:
            found = self.text[raw] = self.aware(raw).strftime("%Y-%m-%dT%H:%M:%SZ")
        return found


def _fetch(qs: QuerySet) -> list[tuple[Any, ...]]:
    """The rows of a values_list() queryset as the driver returns them, without Django's per-value converters
    (an export reads a million rows: converting each timestamp cost more than the query)."""
    sql, params = qs.query.get_compiler(using=qs.db).as_sql()
    with connections[qs.db].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def export_rows(f: ItemFilter, p: Plan, chunk: int | None = None) -> Iterator[list[tuple[Any, ...]]]:
    """Every item of the filter, newest change first, as lists of (key, url, data, first_seen, last_seen,
    last_changed) tuples, the times as ISO text (one list per query).

    Bounded whatever the filter: an ordered filter without search reads `chunk` rows per query by
    keyset; any other (a search, "gone", "seen" in an older tick) walks an ordered range in windows
    of `chunk` index entries (the window's end read from the index first) and reads the rows of
    each window that match, so the whole export is one pass over the range. The sort of a page is
    not used: an export is always newest change first.
    """
    chunk = chunk or EXPORT_CHUNK
    if p.empty:
        return
    stamps = _Stamps()

    def rows_of(parts: list[QuerySet], limit: int | None) -> tuple[list[tuple[Any, ...]], ItemCursor | None]:
        raw: list[tuple[Any, ...]] = []
        for part in parts:  # one after the other, each as far as still needed: no row read twice
            ordered = _newest_first(part).values_list(*EXPORT_FIELDS)
            raw += _fetch(ordered[: limit - len(raw)] if limit else ordered)
            if limit and len(raw) >= limit:
                break
        iso = stamps.iso
        rows = [(key, url, data, iso(first), iso(last), iso(changed))
                for _id, key, url, data, first, last, changed in raw]
        return rows, (ItemCursor(stamps.aware(raw[-1][6]), raw[-1][0]) if raw else None)

    def edge_of(parts: list[QuerySet], n: int) -> ItemCursor | None:
        """The n-th index entry of the parts, in order (one query per part, at most n entries each)."""
        for part in parts:
            found = _fetch(_newest_first(part).values_list("last_changed", "id")[:n])
            if len(found) == n:
                return ItemCursor(stamps.aware(found[-1][0]), found[-1][1])
            n -= len(found)
        return None

    matching = of_filter(f, p) if p.ordered else of_walk(f, p)
    if f.q:
        matching = matching.filter(search_condition(f.q))
    if p.ordered and not f.q:
        cursor = None
        while True:
            rows, last = rows_of(ranges(matching, cursor), chunk)
            if rows:
                yield rows
            if len(rows) < chunk:
                return
            cursor = last
    walked = of_filter(f, p) if p.ordered else CrawlItem.objects.filter(crawl=f.crawl)
    cursor = None
    while True:
        edge = edge_of(ranges(walked, cursor), chunk)
        rows, _ = rows_of(ranges(matching, cursor, edge), None)  # at most `chunk`: one window's rows
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
