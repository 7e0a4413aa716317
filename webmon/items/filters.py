"""What the items browser is asked for (crawl, show, tick, search, order), and what the items DB can say about it.

The items DB keeps each item's latest state only: first_seen, last_seen and
last_changed are tick times, and no row says which ticks an item was in. For
a tick T, with P the tick stored before it and L the latest tick:

    new in T        first_seen = T                      exact for every tick
    changed in T    last_changed = T, first_seen < T    exact for L; for older T only those not changed since
    unchanged in T  last_seen = T, last_changed < T     exact for L; for older T only those not seen since
    seen in T       last_seen = L (T = L)               exact for L
                    first_seen <= T <= last_seen        older T: also items missing from T seen before and after it
    gone (not seen in T)   last_seen < T                exact for L; older T: only those not seen since either
    gone in T (seen in P, not in T)  last_seen = P      exact for L; older T: only those not seen since

(Assuming ticks are stored in time order, as schedules and backfills run them:
StoreItems sets last_seen to the tick it stores, even an older one.) The
counts of a tick's marker are exact for every tick (written with its items),
and a tick's own files (parse/items.jsonl, webmon/items/tickfiles.py) give
the exact lists of an older tick while they are on disk.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Q

SHOWS = ("all", "new", "changed", "unchanged", "seen", "gone", "gone_in")
SORTS = ("changed", "key")  # newest change first; by item key
TICK_FORMAT = "%Y-%m-%dT%H:%M"  # a tick in URLs: a UTC minute, as luigi's --at takes it
MAX_Q = 200  # characters of a search


def tick_param(at: datetime) -> str:
    return at.astimezone(UTC).strftime(TICK_FORMAT)


def parse_tick(text: str) -> datetime | None:
    """The tick `text` names (2026-11-21T07:30, UTC), or None when it names none."""
    try:
        return datetime.strptime(text.strip(), TICK_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass(frozen=True)
class ItemFilter:
    """A crawl's items as the browser (or an export) is asked for them."""

    crawl: str
    show: str = "all"  # one of SHOWS
    tick: datetime | None = None  # the tick `show` refers to; None: the latest
    q: str = ""  # a substring of the key, the URL or the fields' JSON text
    sort: str = "changed"  # one of SORTS
    errors: frozenset[str] = field(default=frozenset(), compare=False)  # the parameters that were not understood

    @classmethod
    def from_query(cls, crawl: str, params: Mapping[str, str]) -> ItemFilter:
        errors = set()
        show = params.get("show", "") or "all"
        if show not in SHOWS:
            errors.add("show")
            show = "all"
        sort = params.get("sort", "") or "changed"
        if sort not in SORTS:
            errors.add("sort")
            sort = "changed"
        tick = None
        if params.get("tick"):
            tick = parse_tick(params["tick"])
            if tick is None:
                errors.add("tick")
        q = params.get("q", "").strip()[:MAX_Q]
        return cls(crawl, show, tick, q, sort, frozenset(errors))

    def query(self, **changes: str) -> dict[str, str]:
        """These parameters as a query dict (defaults left out), with `changes` applied ("" removes one)."""
        values = {"name": self.crawl, "show": "" if self.show == "all" else self.show,
                  "tick": tick_param(self.tick) if self.tick else "", "q": self.q,
                  "sort": "" if self.sort == "changed" else self.sort}
        values.update(changes)
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class Ticks:
    """The ticks a filter refers to, from the crawl's markers."""

    latest: datetime | None  # L: the newest stored tick (None: no tick stored)
    tick: datetime | None  # T: the one asked for, or L
    previous: datetime | None  # P: the stored tick before T
    known: bool = True  # False: the tick asked for is not a stored tick

    @property
    def is_latest(self) -> bool:
        return self.tick is not None and self.tick == self.latest


# How the database serves a filter (Plan.kind).
ORDERED = "ordered"  # an index range gives the rows in (last_changed, id) order: a page reads its rows, no more
SORTED = "sorted"  # an index range selects the rows, the database sorts their index entries (not the rows)
WALKED = "walked"  # no index narrows them down: a page looks through a window of the crawl's items


@dataclass(frozen=True)
class Plan:
    """The condition of a filter on crawl_items, and how the database can serve it.

    The indexes are ix_crawl_items_changed, _seen and _first (pipelines/store.py); what each kind
    costs is in webmon/items/queries.py. `exact`: the rows are exactly what the filter's name says
    (see the module's table).
    """

    where: Q
    kind: str
    exact: bool
    empty: bool = False  # nothing can match: no tick stored, an unknown tick, no tick before T
    # `<column>_noindex` is the column hidden from SQLite's planner (queries.NOINDEX_ALIASES). walk_where:
    # the same condition on hidden columns, for an export's walk
    # of the crawl's (crawl, last_changed, id) index: a window's rows must come from that index range, and
    # SQLite would otherwise read the whole `last_seen` range once per window. None: `where` serves.
    walk_where: Q | None = None

    @property
    def ordered(self) -> bool:
        return self.kind == ORDERED


NOTHING = Plan(Q(), ORDERED, exact=True, empty=True)


def plan(f: ItemFilter, ticks: Ticks) -> Plan:
    if f.show == "all":
        return Plan(Q(), ORDERED, exact=True)
    t = ticks.tick
    if t is None or not ticks.known:
        return NOTHING
    latest = ticks.is_latest
    if f.show == "new":
        return Plan(Q(first_seen=t), ORDERED, exact=True)
    if f.show == "changed":
        # first_seen hidden from SQLite's planner: it would read the whole first_seen < T range.
        return Plan(Q(last_changed=t, first_seen_noindex__lt=t), ORDERED, exact=latest)
    if f.show == "unchanged":
        return Plan(Q(last_seen=t, last_changed__lt=t), ORDERED, exact=latest)
    if f.show == "seen":
        if latest:
            return Plan(Q(last_seen=t), ORDERED, exact=True)
        return Plan(Q(first_seen__lte=t, last_seen__gte=t), WALKED, exact=False,
                    walk_where=Q(first_seen_noindex__lte=t, last_seen_noindex__gte=t))
    if f.show == "gone":
        return Plan(Q(last_seen__lt=t), SORTED, exact=latest, walk_where=Q(last_seen_noindex__lt=t))
    if f.show == "gone_in":
        if ticks.previous is None:
            return NOTHING
        return Plan(Q(last_seen=ticks.previous), ORDERED, exact=latest)
    raise ValueError(f"unknown show {f.show!r}")
