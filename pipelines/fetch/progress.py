"""FetchPages' progress: a percentage only against a stated estimate of the tick's pages.

The crawl does not know how many pages a site has until it has fetched them all: the URLs
found so far (fetched, failed and queued) grow as it goes, so "fetched / found so far" stays
near 100 % from start to end (97 % at 349 of 1,051) and says nothing. A percentage is
shown only against an estimate, and the status message names it:

1. `max_pages`, when the crawl will hit it: it has found (fetched, failed or queued) that many
   pages, or refused a link for it. The total is then max_pages (a redirect or two aside).
2. Else the previous tick's page count (fetched + failed of the newest earlier tick of the crawl
   whose fetch finished: its `fetch/stats.json`, beside this tick's folder), at most max_pages.
   Once this tick has found more pages than that, the estimate is known to be too low and is
   dropped.
3. Else no percentage: "349 pages fetched, 1,051 found so far (no estimate: ...)".

The percentage never passes 99 before the stage ends; the end sends 100.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_PAGES = "max_pages"
PREVIOUS = "previous tick"
BEFORE_END = 99  # the most a running fetch reports


@dataclass(frozen=True)
class Estimate:
    """How many pages the tick is expected to fetch (fetched + failed), and where that comes from."""

    pages: int
    source: str  # MAX_PAGES or PREVIOUS


def estimate(done: int, queued: int, max_pages: int, previous: int | None, max_pages_refused: int = 0) -> Estimate | None:
    """The estimate of the tick's pages given what it has done and found, or None (no honest one).

    done: pages fetched or failed so far; queued: found and not done yet; previous: the previous
    tick's page count (None: no earlier tick); max_pages_refused: links refused for max_pages.
    """
    found = done + queued
    if found >= max_pages or max_pages_refused > 0:
        return Estimate(max_pages, MAX_PAGES)
    if previous is None or previous <= 0:
        return None
    if previous >= max_pages:  # the previous tick hit max_pages: so will this one, most likely
        return Estimate(max_pages, MAX_PAGES)
    if found > previous:  # more than last time already: the previous count says nothing any more
        return None
    return Estimate(previous, PREVIOUS)


def percent(done: int, guess: Estimate | None, final: bool = False) -> int | None:
    """done / estimate as a whole percentage, at most 99 until the end (100); None without an estimate."""
    if final:
        return 100
    if guess is None:
        return None
    return max(0, min(BEFORE_END, 100 * done // max(guess.pages, 1)))


def status_line(stats: dict[str, Any], guess: Estimate | None, previous: int | None, final: bool = False) -> str:
    """The status message luigid shows: what was done, against which estimate, and the counters."""
    done = stats["fetched"] + stats["failed"]
    found = done + stats["queued"]
    tail = (f"{stats['failed']:,} failed, {stats['skipped']:,} skipped, {stats['pages_per_s']:.0f} pages/s")
    if final:
        return f"fetched: {stats['fetched']:,} pages, {tail}"
    if guess is not None:
        approx = "" if guess.source == MAX_PAGES else "~"
        return f"fetching: {done:,} of {approx}{guess.pages:,} pages ({guess.source}), {tail}"
    why = (f"more than the previous tick's {previous:,}" if previous else "no estimate: no earlier tick")
    return f"fetching: {done:,} pages fetched, {found:,} found so far ({why}), {tail}"


def previous_pages(crawl_dir: Path, tick_name: str) -> int | None:
    """Pages (fetched + failed) of the newest tick before `tick_name` whose fetch finished, else None.

    `crawl_dir` holds a folder per tick named YYYYMMDDTHHMMZ (so names sort as times); a fetch
    folder exists only once its stage is done (it is renamed into place). One listing of the
    crawl's folder; a tick whose stats cannot be read is passed over.
    """
    try:
        names = sorted((e.name for e in os.scandir(crawl_dir) if e.name < tick_name and e.is_dir()), reverse=True)
    except OSError:
        return None  # a fresh crawl: no folder yet
    for name in names[:50]:  # stop somewhere: 50 unfinished ticks in a row mean nothing to go by
        try:
            stats = json.loads((crawl_dir / name / "fetch" / "stats.json").read_text(encoding="utf-8"))
            return int(stats["fetched"]) + int(stats["failed"])
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return None
