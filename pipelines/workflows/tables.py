"""CSV and JSON-lines writing for exports: safe to open in a spreadsheet, safe to split on lines.

CSV (RFC 4180, UTF-8 without a BOM, CRLF rows, fields quoted when needed, so
a value with commas, quotes or line breaks stays one cell):

- text is written as is, except that text starting with `=`, `+`, `-`, `@`,
  a tab or a carriage return (what a spreadsheet would run as a formula:
  `=HYPERLINK(...)`, `@SUM(...)`) gets a `'` in front, and so does text
  starting with `'` itself. The rule can therefore be undone exactly:
  `unescape_text` drops one leading `'`.
- numbers and booleans are JSON (`12.5`, `-3`, `true`): they are never
  prefixed, a spreadsheet reads them as numbers. Lists and objects are JSON
  too (`["fiction","art"]`). A missing value (None) is an empty cell.

JSON lines: one `json.dumps(..., ensure_ascii=False)` object per line; U+2028
and U+2029 are escaped as well, so `str.splitlines()` splits only between
records. Text that is not valid Unicode (a lone surrogate a parse hook
returned) is written as a backslash escape in both, never a failed export.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from typing import IO, Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "'")
_LINE_BREAKS = str.maketrans({"\u2028": "\\u2028", "\u2029": "\\u2029"})


def escape_text(text: str) -> str:
    """A text cell a spreadsheet shows as text: a `'` before a formula-like start."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unescape_text(cell: str) -> str:
    """The text `escape_text` was given."""
    return cell[1:] if cell.startswith("'") else cell


def cell(value: Any) -> str:
    """One CSV cell: text escaped, None empty, anything else as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return escape_text(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


def text_writer(binary: IO[bytes]) -> io.TextIOWrapper:
    return io.TextIOWrapper(binary, encoding="utf-8", errors="backslashreplace", newline="")


def write_csv(binary: IO[bytes], columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """A header and the rows (values in column order); returns the rows written."""
    out = text_writer(binary)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([escape_text(name) for name in columns])
    count = 0
    for row in rows:
        writer.writerow([cell(value) for value in row])
        count += 1
    out.flush()
    out.detach()
    return count


def json_line(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False).translate(_LINE_BREAKS) + "\n"


def write_jsonl(binary: IO[bytes], records: Iterable[Any]) -> int:
    """One JSON object per line; returns the lines written."""
    out = text_writer(binary)
    count = 0
    for record in records:
        out.write(json_line(record))
        count += 1
    out.flush()
    out.detach()
    return count
