"""A trigger daemon on a fast clock, for the two-daemon test (run as a subprocess).

Environment: DATABASE_URL, FAST_BASE (ISO start of the fake clock), FAST_T0 (the
real time.time() both daemons count from), FAST_SPEED (fake seconds per real
second), FAST_UNTIL (ISO end), FAST_OUT (file each run appends its id to).
"""

from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmon.settings")

import django  # noqa: E402

django.setup()

from webmon.scheduling.daemon import Trigger  # noqa: E402
from webmon.scheduling.models import ScheduledRun  # noqa: E402

base = datetime.fromisoformat(os.environ["FAST_BASE"])
t0 = float(os.environ["FAST_T0"])
speed = float(os.environ["FAST_SPEED"])
until = datetime.fromisoformat(os.environ["FAST_UNTIL"])
out = os.environ["FAST_OUT"]


def clock() -> datetime:
    return base + timedelta(seconds=(time.time() - t0) * speed)


trigger = Trigger(name=f"fast:{os.getpid()}", clock=clock, output_dir=Path(out).parent / "outputs",
                  command=lambda run: ["/bin/sh", "-c", f"echo {run.pk} >> {out}"],
                  stale_after=timedelta(days=365))


def work_left() -> bool:
    """Runs still queued or running. 30 fake seconds are 12 ms here: on a busy machine a round can jump from
    before the last tick to past `until`, so the daemons go on until a round that began past `until` has
    planned, and every run is final, for at most a minute."""
    return ScheduledRun.objects.filter(state__in=[ScheduledRun.QUEUED, ScheduledRun.RUNNING]).exists()


deadline = None
planned_to_the_end = False  # a round that began at or after `until` has planned every tick
while not planned_to_the_end or trigger.children or work_left():
    if clock() >= until:
        deadline = deadline or time.monotonic() + 60
        if time.monotonic() > deadline:
            break
        planned_to_the_end = True  # this round's plan step sees the clock past the last tick
    if not trigger.tick():
        time.sleep(0.01)
