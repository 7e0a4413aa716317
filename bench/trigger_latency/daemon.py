"""The real trigger daemon on a fast fake clock, timed (run.py starts it as a subprocess).

It is `manage.py trigger` (`Trigger().run_forever(idle_sleep=1.0)`) with two
changes, both from the outside, none in the product code:

* the clock: fake = FAST_BASE + (time.time() - FAST_T0) * FAST_SPEED, and
  `clock_speed=FAST_SPEED`, so the daemon's idle sleeps (computed in fake
  seconds) are converted to real ones;
* timing probes: the real time each round (`tick()`) starts, the end of its
  heartbeat, adopt, reap and plan steps, and the real times just before and
  just after `subprocess.Popen` of each crawl (inside the start step). They are
  appended as JSON lines to FAST_SPAWN_LOG. `Popen` returns once the child has
  exec'd the interpreter, so "after" is the moment the crawl process exists.

The command is the daemon's default one (`python -m luigi --module
pipelines.tasks RunCrawl --crawl ... --at ... --scheduler-url LUIGID_URL`).

Environment: DATABASE_URL, LUIGI_CONFIG_PATH, LUIGID_URL, CRAWL_SPEC_DIRS,
CRAWL_DATA_DIR, FAST_BASE (ISO), FAST_T0 (time.time() at FAST_BASE),
FAST_SPEED (fake seconds per real second), FAST_SPAWN_LOG, FAST_OUTPUT_DIR.
Stops on SIGTERM (the daemon's own handler).
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmon.settings")

import django  # noqa: E402

django.setup()

from webmon.scheduling import daemon as daemon_module  # noqa: E402
from webmon.scheduling.daemon import Trigger  # noqa: E402

BASE = datetime.fromisoformat(os.environ["FAST_BASE"])
T0 = float(os.environ["FAST_T0"])
SPEED = float(os.environ["FAST_SPEED"])
SPAWN_LOG = open(os.environ["FAST_SPAWN_LOG"], "a", buffering=1, encoding="utf-8")  # noqa: SIM115


def clock() -> datetime:
    return BASE + timedelta(seconds=(time.time() - T0) * SPEED)


class TimedTrigger(Trigger):
    """The Trigger with the real time of each round's start and of each step's end noted."""

    round_started: float = 0.0
    marks: dict[str, float]

    def tick(self) -> bool:
        self.round_started = time.time()
        self.marks = {}
        return super().tick()

    def _timed(self, name: str, step: Any, now: datetime) -> Any:
        try:
            return step(now)
        finally:
            self.marks[name] = time.time()

    def heartbeat(self, now: datetime) -> None:
        self._timed("heartbeat", super().heartbeat, now)

    def adopt(self, now: datetime) -> bool:
        return self._timed("adopt", super().adopt, now)

    def reap(self, now: datetime) -> bool:
        return self._timed("reap", super().reap, now)

    def plan(self, now: datetime) -> bool:
        return self._timed("plan", super().plan, now)


class _TimedSubprocess:
    """Stands in for the `subprocess` module inside webmon.scheduling.daemon: times Popen."""

    def __init__(self, trigger: TimedTrigger) -> None:
        self.trigger = trigger

    def __getattr__(self, name: str) -> Any:
        return getattr(subprocess, name)

    def Popen(self, args: list[str], *rest: Any, **kwargs: Any) -> subprocess.Popen:  # noqa: N802
        before = time.time()
        process = subprocess.Popen(args, *rest, **kwargs)
        after = time.time()
        at = args[args.index("--at") + 1] if "--at" in args else None
        SPAWN_LOG.write(json.dumps({"at": at, "pid": process.pid, "round_started": self.trigger.round_started,
                                    "marks": dict(self.trigger.marks), "popen_start": before, "spawned": after,
                                    "argv": args}) + "\n")
        return process


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    trigger = TimedTrigger(name=f"bench:{os.getpid()}", clock=clock, clock_speed=SPEED,
                           output_dir=Path(os.environ["FAST_OUTPUT_DIR"]), stale_after=timedelta(days=365))
    daemon_module.subprocess = _TimedSubprocess(trigger)
    trigger.run_forever(idle_sleep=1.0)  # manage.py trigger's default


if __name__ == "__main__":
    main()
