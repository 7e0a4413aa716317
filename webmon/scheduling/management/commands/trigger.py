"""`manage.py trigger`: the trigger daemon (started by `scheduler.sh up`).

Runs until SIGTERM or SIGINT; `--once` runs one round of every step and
exits (for cron-driven setups and tests).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from webmon.scheduling.daemon import Trigger


class Command(BaseCommand):
    help = "Fire scheduled crawls: plan due ticks, start, reap, retry, time out, adopt, notify."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--once", action="store_true", help="run one round of every step and exit")
        parser.add_argument("--idle-sleep", type=float, default=1.0,
                            help="seconds to sleep when a round did nothing (default 1)")
        parser.add_argument("--slots", type=int, default=None,
                            help="runs this daemon runs at once, 0 for no limit (default: TRIGGER_SLOTS, 0)")

    def handle(self, *args: Any, **options: Any) -> None:
        trigger = Trigger() if options["slots"] is None else Trigger(slots=max(0, options["slots"]))
        if options["once"]:
            trigger.tick()
            return
        trigger.run_forever(idle_sleep=options["idle_sleep"])
