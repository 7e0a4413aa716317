"""The items browser's pages: a crawl's items, one item, what changed in a tick, and the exports."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from webmon.items import export, queries, tickfiles
from webmon.items.filters import SHOWS, ItemFilter, Ticks, parse_tick, plan, tick_param
from webmon.items.models import CrawlItem
from webmon.items.queries import ItemCursor, ItemPage
from webmon.items.source import ItemsSource
from webmon.monitor.clock import Clock
from webmon.monitor.sources import short_reason

TICK_LISTED = tickfiles.LISTED  # items of each list on the tick page


def _crawl_name(request: HttpRequest) -> str:
    crawl = request.GET.get("name", "")
    if not crawl:
        raise Http404(_("Which crawl? Give its name as ?name=."))
    return crawl


def _query(params: dict[str, str]) -> str:
    return urlencode(params)


def items_list(request: HttpRequest) -> HttpResponse:
    crawl = _crawl_name(request)
    clock, source = Clock.current(), ItemsSource()
    f = ItemFilter.from_query(crawl, request.GET)
    after = ItemCursor.decode(request.GET.get("after", ""))
    newest = source.read(lambda: queries.newest_markers(crawl, queries.TICK_CHOICES + 1), [])
    ticks, offered = source.read(lambda: queries.resolve_ticks(f, newest), (Ticks(None, None, None), []))
    p = plan(f, ticks)
    page = source.read(
        lambda: queries.item_page(f, p, after=after, size=settings.WEBMON_PAGE_SIZE,
                                  window=settings.WEBMON_ITEMS_SCAN_WINDOW),
        ItemPage([], None),
    )
    export_query = _query(f.query(sort=""))
    return render(request, "items/items.html", {
        "clock": clock,
        "banners": source.banners,
        "no_items": source.no_items,
        "crawl": crawl,
        "filter": f,
        "errors": f.errors,
        "shows": SHOWS,
        "ticks": ticks,
        "tick_choices": [(tick_param(m.at), m) for m in offered],
        "selected_tick": tick_param(ticks.tick) if ticks.tick else "",
        "latest": newest[0] if newest else None,
        "plan": p,
        "page": page,
        "next_query": _query({**f.query(), "after": page.next.encode()}) if page.next else None,
        "first_query": _query(f.query()) if after is not None else None,
        "export_query": export_query,
        "tick_query": _query({"name": crawl, "at": tick_param(ticks.tick)}) if ticks.tick and ticks.known else None,
    })


def _status_in_latest(item: CrawlItem, latest: datetime | None) -> str:
    if latest is None:
        return ""
    if item.last_seen < latest:
        return "gone"
    if item.first_seen == latest:
        return "new"
    if item.last_changed == latest:
        return "changed"
    return "unchanged"


def _shown(value: Any) -> tuple[str, bool]:
    """A field's value as text, and whether it is JSON (shown pretty, in a <pre>) rather than plain text."""
    if isinstance(value, str):
        return value, False
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True), True


def item_detail(request: HttpRequest, pk: int) -> HttpResponse:
    clock, source = Clock.current(), ItemsSource()
    found = source.read(lambda: queries.item(pk), None)
    if found is None:
        if source.ok:
            raise Http404(_("No item with this id in the items DB."))
        return render(request, "items/item.html", {"clock": clock, "banners": source.banners,
                                                   "no_items": source.no_items, "item": None}, status=200)
    newest = source.read(lambda: queries.newest_markers(found.crawl, 1), [])
    latest = newest[0].at if newest else None
    data = found.fields()
    return render(request, "items/item.html", {
        "clock": clock,
        "banners": source.banners,
        "item": found,
        "crawl": found.crawl,
        "latest": latest,
        "latest_url": reverse("items:tick") + "?" + _query({"name": found.crawl, "at": tick_param(latest)}) if latest
        else None,
        "status": _status_in_latest(found, latest),
        "fields": [(name, *_shown(value)) for name, value in data.items()] if data is not None else None,
        "pretty": json.dumps(data, ensure_ascii=False, indent=2, sort_keys=True) if data is not None else found.data,
        "url_is_http": found.url.startswith(("http://", "https://")),
    })


def tick_detail(request: HttpRequest) -> HttpResponse:
    crawl = _crawl_name(request)
    at = parse_tick(request.GET.get("at", ""))
    if at is None:
        raise Http404(_("Which tick? Give its time as ?at=YYYY-MM-DDTHH:MM (UTC)."))
    clock, source = Clock.current(), ItemsSource()
    newest = source.read(lambda: queries.newest_markers(crawl, 1), [])
    around = source.read(lambda: queries.markers_up_to(crawl, at), [])
    if not around or around[0].at != at:
        if source.ok:
            raise Http404(_("No tick of this crawl was stored at that time."))
        return render(request, "items/tick.html", {"clock": clock, "banners": source.banners,
                                                   "no_items": source.no_items, "crawl": crawl, "marker": None})
    marker = around[0]
    previous = around[1] if len(around) > 1 else None
    ticks = Ticks(newest[0].at if newest else at, at, previous.at if previous else None)
    lists = {}
    for show in ("new", "changed", "gone_in"):
        f = ItemFilter(crawl, show, at)
        rows, p = source.read(lambda f=f: queries.first_of(f, ticks, TICK_LISTED + 1), ([], plan(f, ticks)))
        lists[show] = {"rows": rows[:TICK_LISTED], "more": len(rows) > TICK_LISTED, "exact": p.exact,
                       "query": _query(f.query())}
    gone_count = source.read(lambda: queries.count_of(ItemFilter(crawl, "gone_in", at), ticks), None)
    comparison = None
    if not ticks.is_latest and previous is not None:
        comparison = tickfiles.compare(crawl, at, previous.at)
    return render(request, "items/tick.html", {
        "clock": clock,
        "banners": source.banners,
        "crawl": crawl,
        "marker": marker,
        "previous": previous,
        "previous_query": _query({"name": crawl, "at": tick_param(previous.at)}) if previous else None,
        "is_latest": ticks.is_latest,
        "latest_query": _query({"name": crawl, "at": tick_param(ticks.latest)}) if not ticks.is_latest else None,
        "lists": lists,
        "gone_count": gone_count,
        "comparison": comparison,
        "has_file": tickfiles.items_file(crawl, at).is_file(),
        "export_query": _query({"name": crawl, "at": tick_param(at)}),
        "items_query": _query(ItemFilter(crawl, "seen", at).query()),
    })


# -- exports ---------------------------------------------------------------------------


def _spec_fields(crawl: str) -> list[str] | None:
    from pipelines.exceptions import SpecError
    from pipelines.spec import load_spec

    try:
        return [f.name for f in load_spec(crawl).fields]
    except (SpecError, OSError):
        return None


def _fields_for(crawl: str, source: ItemsSource) -> list[str]:
    """The CSV's field columns: the spec's fields in its order; without a spec, the newest item's fields."""
    names = _spec_fields(crawl)
    if names is not None:
        return names
    newest = source.read(lambda: CrawlItem.objects.filter(crawl=crawl).order_by("-last_changed", "-id").first(),
                         None)
    data = newest.fields() if newest is not None else None
    return sorted(data) if data else []


def _db_rows(chunks: Iterator[list[tuple[Any, ...]]], kind: str) -> Iterator[list[export.Row]]:
    loads = json.JSONDecoder().decode
    for chunk in chunks:
        rows = []
        for key, url, data, first, last, changed in chunk:
            if kind == "csv":
                try:
                    fields = loads(data)
                except ValueError:
                    fields = None
                rows.append((key, url, fields, first, last, changed, None))
            else:  # the stored canonical JSON as is, when it is an object (StoreItems writes nothing else)
                text = data if data.startswith("{") and data.endswith("}") else "null"
                rows.append((key, url, None, first, last, changed, text))
        yield rows


def _file_rows(path: Any) -> Iterator[list[export.Row]]:
    chunk, rows = queries.EXPORT_CHUNK, []
    for record in tickfiles.read_records(path):
        fields = record.get("fields")
        rows.append((record["key"], str(record.get("url", "")), fields if isinstance(fields, dict) else {},
                     None, None, None, None))
        if len(rows) >= chunk:
            yield rows
            rows = []
    if rows:
        yield rows


def _encoded(kind: str, fields: list[str], rows: Iterator[list[export.Row]]) -> Iterator[bytes]:
    return export.csv_chunks(fields, rows) if kind == "csv" else export.jsonl_chunks(rows)


def _stream(kind: str, fields: list[str], rows: Iterator[list[export.Row]], from_db: bool) -> Iterator[bytes]:
    try:
        if from_db:
            with queries.snapshot():
                yield from _encoded(kind, fields, rows)
        else:
            yield from _encoded(kind, fields, rows)
    except (DatabaseError, OSError) as exc:  # the headers are sent: the file itself says so
        yield export.failure_line(kind, short_reason(exc))


def _download(kind: str, name: str, body: Iterator[bytes]) -> StreamingHttpResponse:
    response = StreamingHttpResponse(body, content_type=export.CONTENT_TYPES[kind])
    response["Content-Disposition"] = f'attachment; filename="{name}.{kind}"'
    response["Cache-Control"] = "no-store"
    return response


def _file_name(*parts: str) -> str:
    return "-".join(re.sub(r"[^A-Za-z0-9_.-]", "_", p)[:80] for p in parts)


def _unavailable(source: ItemsSource) -> HttpResponse:
    text = source.banners[0].text if source.banners else _("No items are stored yet.")
    return HttpResponse(text, status=503 if source.failed else 404, content_type="text/plain; charset=utf-8")


def items_export(request: HttpRequest, kind: str) -> HttpResponse:
    """The items of a filter (as on the items page, without its order), newest change first."""
    if kind not in export.CONTENT_TYPES:
        raise Http404(_("Exports are .csv or .jsonl."))
    crawl = _crawl_name(request)
    source = ItemsSource()
    f = ItemFilter.from_query(crawl, request.GET)
    if f.errors:
        text = ngettext("A filter value was not understood: %(names)s", "Some filter values were not understood: %(names)s",
                        len(f.errors)) % {"names": ", ".join(sorted(f.errors))}
        return HttpResponse(text, status=400, content_type="text/plain; charset=utf-8")
    newest = source.read(lambda: queries.newest_markers(crawl, queries.TICK_CHOICES + 1), [])
    ticks, _offered = source.read(lambda: queries.resolve_ticks(f, newest), (Ticks(None, None, None), []))
    if not source.ok:
        return _unavailable(source)
    p = plan(f, ticks)
    fields = _fields_for(crawl, source) if kind == "csv" else []
    rows = _db_rows(queries.export_rows(f, p), kind)
    label = f.show if f.show != "all" else "items"
    parts = [crawl, label, *([tick_param(f.tick).replace(":", "")] if f.tick else [])]
    return _download(kind, _file_name(*parts), _stream(kind, fields, rows, from_db=True))


def tick_export(request: HttpRequest, kind: str) -> HttpResponse:
    """The items of one tick: the latest from the items DB (their records are that tick's state), an older one
    from its parse/items.jsonl (the items as parsed then), while it is on disk."""
    if kind not in export.CONTENT_TYPES:
        raise Http404(_("Exports are .csv or .jsonl."))
    crawl = _crawl_name(request)
    at = parse_tick(request.GET.get("at", ""))
    if at is None:
        raise Http404(_("Which tick? Give its time as ?at=YYYY-MM-DDTHH:MM (UTC)."))
    source = ItemsSource()
    newest = source.read(lambda: queries.newest_markers(crawl, 1), [])
    around = source.read(lambda: queries.markers_up_to(crawl, at, 1), [])
    if not source.ok:
        return _unavailable(source)
    if not around or around[0].at != at:
        raise Http404(_("No tick of this crawl was stored at that time."))
    fields = _fields_for(crawl, source) if kind == "csv" else []
    name = _file_name(crawl, tick_param(at).replace(":", ""))
    if newest and newest[0].at == at:
        f = ItemFilter(crawl, "seen", at)
        ticks = Ticks(at, at, None)
        rows = _db_rows(queries.export_rows(f, plan(f, ticks)), kind)
        return _download(kind, name, _stream(kind, fields, rows, from_db=True))
    path = tickfiles.items_file(crawl, at)
    if not path.is_file():
        text = _("This tick is not the latest, so the items DB no longer has its items as they were, and its file"
                 " %(path)s is not on this host.") % {"path": path}
        return HttpResponse(text, status=404, content_type="text/plain; charset=utf-8")
    return _download(kind, name, _stream(kind, fields, _file_rows(path), from_db=False))
