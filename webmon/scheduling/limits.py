"""Limit notices: a scheduled tick whose crawl reached a limit (max_pages, max_depth, [budgets],
max_bytes) fires the schedule's notices once, like a data-quality notice (quality.py).

The trigger daemon calls `record(run, now)` each time an attempt of a crawl's ScheduledRun ends.
It reads the newest RunCrawl record of that ScheduledRun with `limits` in its stats (RunCrawl
judges the limits FetchPages reached with the spec's on_limit: pipelines/limits.py) and, when a
limit warned or failed the tick, writes one ScheduleEvent with reason `limit`: the state does not
change, the detail is the verdict (warn or fail) on its first line and one sentence per line after.
Limits the spec ignores (on_limit = "ignore") send nothing. Once per ScheduledRun: the partial
unique index on (run) for this reason (migration 0008).
"""

from __future__ import annotations

from datetime import datetime

from webmon.scheduling.models import ScheduledRun, ScheduleEvent
from webmon.scheduling.quality import newest_stats, record_once

LIMIT = "limit"
CRAWL_FAMILY = "RunCrawl"


def record(run: ScheduledRun, now: datetime) -> ScheduleEvent | None:
    """The tick's limit event, written the first time its RunCrawl reports a limit that warns or fails."""
    return record_once(run, now, LIMIT, reached)


def reached(run: ScheduledRun) -> tuple[str, list[str]] | None:
    """(verdict, sentences) of the limits the tick of `run` reached, or None (none, or all ignored)."""
    for data in newest_stats(run, CRAWL_FAMILY):
        limits = data.get("limits")
        if not isinstance(limits, dict) or not isinstance(limits.get("hits"), list):
            continue
        hits = [h for h in limits["hits"] if isinstance(h, dict) and h.get("action") in ("warn", "fail")]
        if not hits:
            return None
        verdict = "fail" if any(h["action"] == "fail" for h in hits) else "warn"
        return verdict, [str(h.get("sentence")) for h in hits]
    return None
