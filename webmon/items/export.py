"""Exports of items as CSV or JSON lines, streamed: a chunk of rows per database read, never the whole set.

CSV: RFC 4180 (comma, CRLF, fields with a comma, quote or line break
quoted, quotes doubled), UTF-8 without a byte-order mark. The header is
`item_key,url,first_seen,last_seen,last_changed`, then the spec's fields in
its order, then `other_fields`: the JSON object of any fields the spec does
not name (a parse_hook's, or a field the spec has dropped since), empty when
there are none. A field named like one of the first five columns gets the
column `fields.<name>`. Values: text as is, numbers as JSON writes them,
true/false, lists and objects as JSON, null and a missing field empty.
Against CSV injection, a text value starting with `=`, `+`, `-`, `@`, a tab
or a carriage return gets a leading `'` (so a spreadsheet shows it as text);
JSON numbers are written as numbers (a negative price keeps its minus).

JSON lines: one object per line, {"key", "url", "first_seen", "last_seen",
"last_changed", "fields"}, the fields as StoreItems stored them (canonical
JSON). Times are UTC, ISO 8601 with a Z; in an export of an older tick's
file they are null (the file has the items as parsed, not their records).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

META_COLUMNS = ("item_key", "url", "first_seen", "last_seen", "last_changed")
OTHER_COLUMN = "other_fields"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}
# Built once: json.dumps with any option builds a new encoder per call, which cost more than the encoding.
_as_json = json.JSONEncoder(ensure_ascii=False, sort_keys=True).encode
_as_json_head = json.JSONEncoder(ensure_ascii=False).encode


def safe_text(text: str) -> str:
    """`text` as a spreadsheet shows it but never runs it: a leading ' before a formula's first character."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def cell(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if value is None:
        return ""
    if kind is int:
        return str(value)
    if kind is float and value - value == 0:  # finite: repr is what JSON writes
        return repr(value)
    if kind is bool:
        return "true" if value else "false"
    return safe_text(_as_json(value))


def header(fields: Sequence[str]) -> list[str]:
    return [*META_COLUMNS, *(f"fields.{f}" if f in META_COLUMNS or f == OTHER_COLUMN else f for f in fields),
            OTHER_COLUMN]


class _Lines:
    """A file-like buffer csv.writer writes into; `take` empties it."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()

    def write(self, text: str) -> None:
        self.buffer.write(text)

    def take(self) -> bytes:
        text = self.buffer.getvalue()
        self.buffer.seek(0)
        self.buffer.truncate()
        return text.encode("utf-8")


# An export row: (key, url, fields (dict or None), first_seen, last_seen, last_changed (ISO text or None),
# the fields' JSON text (or None: dump `fields`)).
Row = tuple[str, str, Any, str | None, str | None, str | None, str | None]


def csv_chunks(fields: Sequence[str], chunks: Iterable[list[Row]]) -> Iterator[bytes]:
    names = list(fields)
    known = set(names)
    out = _Lines()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header(names))
    yield out.take()
    writerows = writer.writerows
    for rows in chunks:
        lines = []
        for key, url, data, first, last, changed, _ in rows:
            data = data if type(data) is dict else {}
            line = [safe_text(key), safe_text(url), first, last, changed]
            line += [cell(data.get(name)) for name in names]
            if len(data) > len(known) or not known.issuperset(data):
                other = {k: v for k, v in data.items() if k not in known}
                line.append(safe_text(_as_json(other)))
            else:
                line.append("")
            lines.append(line)
        writerows(lines)
        yield out.take()


def jsonl_chunks(chunks: Iterable[list[Row]]) -> Iterator[bytes]:
    for rows in chunks:
        lines = []
        for key, url, data, first, last, changed, text in rows:
            head = _as_json_head({"key": key, "url": url, "first_seen": first, "last_seen": last,
                                  "last_changed": changed})
            if text is None:
                text = _as_json(data)
            lines.append(f'{head[:-1]}, "fields": {text}}}\n')
        yield "".join(lines).encode("utf-8")


def failure_line(kind: str, reason: str) -> bytes:
    """The last line of an export the database stopped (the headers are sent: the file itself says so)."""
    text = f"export cut short: the items database could not be read: {reason}"
    if kind == "jsonl":
        return (json.dumps({"error": text}) + "\n").encode("utf-8")
    out = _Lines()
    csv.writer(out, lineterminator="\r\n").writerow([f"# {text}"])
    return out.take()
