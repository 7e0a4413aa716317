"""ExportItems: one crawl tick's items as a CSV or JSON-lines file.

    python -m luigi --module pipelines.workflows.export ExportItems --crawl demo --at 2026-11-21T0730 --format csv

Requires the tick (`RunCrawl` of the same crawl and `at`, which a missing
tick runs first) and writes `<data_dir>/exports/<crawl>/<tick>/items.csv`
(or `.jsonl`) atomically, so the export of a complete tick runs once. The
items are those the tick parsed (pipelines/workflows/ticks.py), sorted by
item key; the cell rules are in pipelines/workflows/tables.py.

- csv: columns `_key`, `_url`, then the spec's fields in spec order, then any
  other field the items have (a parse hook's), sorted.
- jsonl: `{"key": ..., "url": ..., "fields": {...}}` per line, the shape of
  the tick's own items.jsonl, values with their JSON types.

Parquet is not offered: pyarrow is a 40 MB wheel for a format that CSV and
JSON lines already cover for spreadsheets and loaders (docs/workflows.md).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import luigi

from pipelines.exceptions import WorkflowError
from pipelines.runs.reclaim import ReclaimFirst
from pipelines.tasks import CrawlTick, RunCrawl, _setup_logging
from pipelines.workflows.files import AtomicFile, exports_dir, tick_name
from pipelines.workflows.tables import write_csv, write_jsonl
from pipelines.workflows.ticks import TickItems, items_of

log = logging.getLogger("pipelines.workflows.export")

FORMATS = ("csv", "jsonl")
META_COLUMNS = ("_key", "_url")


def csv_columns(items: TickItems, declared: list[str]) -> list[str]:
    """`_key`, `_url` and the fields; a field named like one of the first two is refused."""
    fields = items.field_names(declared)
    clash = [name for name in fields if name in META_COLUMNS]
    if clash:
        raise WorkflowError(f"field {clash[0]!r} has the name of the export's own {clash[0]} column; "
                            "rename the field in the spec")
    return [*META_COLUMNS, *fields]


def write_items(binary: Any, items: TickItems, fmt: str, declared: list[str]) -> tuple[int, list[str]]:
    """Write the items in `fmt` to a binary file; returns (rows, columns)."""
    if fmt == "csv":
        columns = csv_columns(items, declared)
        rows = ([item.key, item.url, *(item.fields.get(name) for name in columns[2:])] for item in items)
        return write_csv(binary, columns, rows), columns
    records = ({"key": item.key, "url": item.url, "fields": item.fields} for item in items)
    return write_jsonl(binary, records), ["key", "url", "fields"]


class ExportItems(CrawlTick, ReclaimFirst, luigi.Task):
    """The items of one crawl tick as one file (csv or jsonl), after the tick itself."""

    format = luigi.ChoiceParameter(choices=FORMATS, default="csv", description="csv or jsonl.")

    def requires(self) -> RunCrawl:
        return self.clone(RunCrawl)  # crawl, at, overrides and spec_path

    def output(self) -> AtomicFile:
        return AtomicFile(str(exports_dir() / self.crawl / tick_name(self.at) / f"items.{self.format}"))

    def run(self) -> None:
        _setup_logging()
        items = items_of(self)
        target = self.output()
        with target.temporary_path() as tmp, open(tmp, "wb") as out:
            rows, columns = write_items(out, items, self.format, [f.name for f in self.spec.fields])
        size = Path(target.path).stat().st_size
        self.set_status_message(f"exported {rows:,} items ({size:,} bytes) to {target.path}")
        self.run_stats = {"rows": rows, "bytes": size, "format": self.format, "path": target.path,
                          "columns": columns, "duplicates": items.duplicates}
        log.info("export stats %s", json.dumps(self.run_stats, sort_keys=True))
