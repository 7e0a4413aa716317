"""Data-quality notices: a tick that broke its crawl's [monitors] fires the schedule's notices once.

The trigger daemon calls `record(run, now)` each time an attempt of a crawl's
ScheduledRun ends (daemon.Trigger._finish). It reads the run records of that
ScheduledRun in the history DB (crawl_run_deps.scheduled_run, then the newest
StoreItems record with a quality report in its stats: pipelines/quality.py)
and, when the report lists violations, writes one ScheduleEvent with reason
`data_quality`: the schedule's state does not change (old = new state), the
detail is the verdict on its first line and one violation per line after.
notify.send_pending() sends it like a down notice, to every channel once.

Exactly once per ScheduledRun whatever happens: a retry finds the event of the
first attempt (the StoreItems record is the same one), and two daemons that
race are stopped by the partial unique index on (run) for this reason.
A tick that both fails ("fail") and takes the schedule down sends the down
notice too: that one says the schedule is down, this one what the data broke.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from django.db import DatabaseError, IntegrityError, transaction

from webmon.scheduling.models import ScheduledRun, ScheduleEvent

log = logging.getLogger("webmon.scheduling")

DATA_QUALITY = "data_quality"
STORE_FAMILY = "StoreItems"
NEWEST_STORES = 5  # StoreItems records of one ScheduledRun read (one per attempt that stored)
DETAIL_MAX = 4000


def newest_stats(run: ScheduledRun, family: str) -> Iterator[dict[str, Any]]:
    """The stats (JSON objects) of the newest records of `family` that ran for the ScheduledRun `run`."""
    from webmon.history.deps import CrawlRunDeps  # noqa: PLC0415 - the history app loads after this one

    texts = (CrawlRunDeps.objects.filter(scheduled_run=run.pk, run__family=family)
             .order_by("-run_id").values_list("run__stats", flat=True)[:NEWEST_STORES])
    for text in texts:
        try:
            data = json.loads(text or "")
        except ValueError:
            continue
        if isinstance(data, dict):
            yield data


def tick_report(run: ScheduledRun) -> dict[str, Any] | None:
    """The quality report (with monitors, violations, verdict) of the tick `run` stored, or None."""
    for data in newest_stats(run, STORE_FAMILY):
        if isinstance(data.get("quality"), dict):
            return data["quality"]
    return None


def detail(quality: dict[str, Any]) -> str:
    lines = [str(quality.get("verdict") or "warn"), *(str(v) for v in quality.get("violations") or [])]
    text = "\n".join(lines)
    return text if len(text) <= DETAIL_MAX else text[: DETAIL_MAX - 1] + "…"


def record(run: ScheduledRun, now: datetime) -> ScheduleEvent | None:
    """The tick's data_quality event, written the first time its report shows violations; else None."""
    return record_once(run, now, DATA_QUALITY, _violations)


def _violations(run: ScheduledRun) -> tuple[str, list[str]] | None:
    quality = tick_report(run)
    if not quality or not quality.get("violations"):
        return None
    return str(quality.get("verdict") or "warn"), [str(v) for v in quality["violations"]]


def record_once(run: ScheduledRun, now: datetime, reason: str,
                read: Callable[[ScheduledRun], tuple[str, list[str]] | None]) -> ScheduleEvent | None:
    """An event with `reason` for the tick of `run`, once: `read(run)` gives (verdict, sentences) or None.

    The state does not change (old = new); the detail is the verdict, then a sentence a line. A partial
    unique index on (run) per reason stops a second event (a retry, two daemons racing).
    """
    schedule = run.schedule
    if not schedule.is_crawl or ScheduleEvent.objects.filter(run=run, reason=reason).exists():
        return None
    try:
        found = read(run)
    except DatabaseError as exc:  # the history DB is down: this attempt's notice is lost, the run is not
        log.warning("%s: cannot read its run records for %s: %s", run, reason, str(exc).splitlines()[0][:200])
        return None
    if found is None:
        return None
    verdict, sentences = found
    state = schedule.__class__.objects.filter(pk=schedule.pk).values_list("state", flat=True).first() or schedule.state
    try:
        with transaction.atomic():
            event = ScheduleEvent.objects.create(schedule=schedule, at=now, old_state=state, new_state=state,
                                                 reason=reason, detail=detail({"verdict": verdict,
                                                                               "violations": sentences}), run=run)
    except IntegrityError:
        return None  # another daemon recorded it first
    log.info("%s: %s, %d sentence(s)", run, reason, len(sentences))
    return event
