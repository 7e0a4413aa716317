"""Luigi's naive timestamps -> aware UTC datetimes.

luigid writes `task_events.ts` as `datetime.now()`: naive, in the local time
of the luigid host. We run luigid with TZ=UTC, so those values are UTC. This
module is the ONLY place webmon turns them into aware datetimes; it is called
by LuigiTimestampField.from_db_value, so code using the models never sees a
naive value and never converts one itself.
"""

from __future__ import annotations

from datetime import UTC, datetime


def aware(naive_dt: datetime) -> datetime:
    """The aware UTC datetime of a naive UTC timestamp written by Luigi.

    An already aware value is converted to UTC (its instant is known), so a
    backend or column that keeps zones cannot make this shift the time.
    """
    if naive_dt.tzinfo is None:
        return naive_dt.replace(tzinfo=UTC)
    return naive_dt.astimezone(UTC)
