"""What /metrics keeps to count ended scheduled runs without reading them all (see folding.py).

Plain ids, not foreign keys: these rows are the exporter's bookkeeping and must
not change what deleting a schedule or a run does. Totals of a deleted
schedule are simply not shown.
"""

from __future__ import annotations

from django.db import models

DELAY_BUCKETS = (0.25, 0.5, 1, 2, 5, 10, 30, 60, 300)  # seconds, crawl_schedule_delay_seconds


def delay_column(le: float) -> str:
    return f"le_{le:g}".replace(".", "_")


class Cursor(models.Model):
    """One row: every ScheduledRun with id <= last_id has been looked at once."""

    last_id = models.BigIntegerField(default=0)
    version = models.BigIntegerField(default=0)  # the claim: a fold writes only if nobody folded since it read

    class Meta:
        db_table = "metrics_cursor"


class PendingRun(models.Model):
    """A run seen queued or running, so its end is counted when it comes."""

    run_id = models.BigIntegerField(primary_key=True)
    delay_done = models.BooleanField(default=False)  # its start delay was counted (or cannot be any more)

    class Meta:
        db_table = "metrics_pending_run"


class ScheduleTotals(models.Model):
    """Ended runs of a schedule by final state, and the start delays of its scheduled runs (cumulative)."""

    schedule_id = models.BigIntegerField(primary_key=True)
    success = models.BigIntegerField(default=0)
    failed = models.BigIntegerField(default=0)
    skipped = models.BigIntegerField(default=0)
    timed_out = models.BigIntegerField(default=0)
    delay_count = models.BigIntegerField(default=0)
    delay_sum_ms = models.BigIntegerField(default=0)
    le_0_25 = models.BigIntegerField(default=0)
    le_0_5 = models.BigIntegerField(default=0)
    le_1 = models.BigIntegerField(default=0)
    le_2 = models.BigIntegerField(default=0)
    le_5 = models.BigIntegerField(default=0)
    le_10 = models.BigIntegerField(default=0)
    le_30 = models.BigIntegerField(default=0)
    le_60 = models.BigIntegerField(default=0)
    le_300 = models.BigIntegerField(default=0)

    class Meta:
        db_table = "metrics_schedule_totals"
