"""A tick's own items on disk: <[crawl] data_dir>/<crawl>/<tick>/parse/items.jsonl, as ParsePages wrote them.

The items DB keeps each item's latest state; the files keep each tick's, for
as long as nobody deletes them (nothing here prunes data folders). They are
where an older tick's exact lists come from: `compare` reads a tick's file
and its previous tick's and says what was added, changed and gone between
them, and exports of an older tick stream its file. Reading them needs webmon
to run where the data folder is (one host, or a shared folder); elsewhere the
pages say the files are not there.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings

from pipelines.store import canonical

LISTED = 20  # items of each list on the tick page


def data_dir() -> Path:
    """[crawl] data_dir (CRAWL_DATA_DIR overrides it), relative to the repository root as the workers run."""
    from pipelines.config import crawl

    folder = Path(str(crawl().data_dir))
    return folder if folder.is_absolute() else Path(settings.BASE_DIR) / folder


def items_file(crawl: str, at: datetime) -> Path:
    # The tick folder's name, as CrawlTask.tick_dir makes it (pipelines/tasks.py).
    return data_dir() / crawl / at.astimezone(UTC).strftime("%Y%m%dT%H%MZ") / "parse" / "items.jsonl"


def read_records(path: Path) -> Iterator[dict[str, Any]]:
    """The {"key", "url", "fields"} records of an items.jsonl, in file order; lines that are no record are skipped."""
    with open(path, encoding="utf-8", errors="replace") as lines:
        for line in lines:
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if isinstance(record, dict) and isinstance(record.get("key"), str):
                yield record


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha1(text.encode("utf-8")).digest()[:8], "big")


@dataclass
class Listed:
    count: int = 0
    first: list[dict[str, str]] = field(default_factory=list)  # the first LISTED, as {"key", "url"}

    def add(self, key: str, url: str) -> None:
        self.count += 1
        if len(self.first) < LISTED:
            self.first.append({"key": key, "url": url})


@dataclass
class Comparison:
    """What a tick's file says changed since the previous tick's file (exact, as far as the files are)."""

    state: str  # "ok", "missing" (a file is not on disk), "too_big" (over WEBMON_TICK_FILE_ITEMS), "off"
    added: Listed = field(default_factory=Listed)  # in T, not in P (new, or back after a gap)
    changed: Listed = field(default_factory=Listed)  # in both, other fields
    gone: Listed = field(default_factory=Listed)  # in P, not in T
    items: int = 0  # distinct keys in T
    missing: list[str] = field(default_factory=list)  # the files that are not there


class _TooBig(Exception):
    pass


def _load(path: Path, cap: int) -> dict[int, tuple[int, str, str]]:
    """key digest -> (fields digest, key, url); a later line of the same key wins, as in StoreItems."""
    found: dict[int, tuple[int, str, str]] = {}
    for n, record in enumerate(read_records(path), 1):
        if n > cap:
            raise _TooBig
        fields = record.get("fields")
        found[_digest(record["key"])] = (
            _digest(canonical(fields if isinstance(fields, dict) else {})), record["key"], str(record.get("url", "")),
        )
    return found


def compare(crawl: str, at: datetime, previous: datetime) -> Comparison:
    """The exact differences between the files of tick `at` and of tick `previous`.

    Memory: both files' keys as 64-bit digests (about 200 bytes an item with
    its key and URL), hence the WEBMON_TICK_FILE_ITEMS cap on each file.
    """
    cap = settings.WEBMON_TICK_FILE_ITEMS
    if cap <= 0:
        return Comparison("off")
    paths = [items_file(crawl, at), items_file(crawl, previous)]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        return Comparison("missing", missing=missing)
    try:
        now, before = _load(paths[0], cap), _load(paths[1], cap)
    except _TooBig:
        return Comparison("too_big")
    except OSError as exc:
        return Comparison("missing", missing=[str(exc.filename or paths[0])])
    result = Comparison("ok", items=len(now))
    for digest, (content, key, url) in now.items():
        old = before.get(digest)
        if old is None:
            result.added.add(key, url)
        elif old[0] != content:
            result.changed.add(key, url)
    for digest, (_, key, url) in before.items():
        if digest not in now:
            result.gone.add(key, url)
    return result
