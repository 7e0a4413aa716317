"""`manage.py ensure_demo_schedule`: on a fresh install, a schedule for the bundled demo crawl.

Created only when there is no schedule at all, so an operator's deletions
stand. `scheduler.sh up` runs it.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from webmon.scheduling.models import Schedule


class Command(BaseCommand):
    help = "Create a demo schedule (the demo crawl every 15 minutes) when no schedule exists."

    def handle(self, *args: Any, **options: Any) -> None:
        if Schedule.objects.exists():
            return
        Schedule.objects.create(name="demo", crawl="demo", cron="*/15 * * * *", timezone="UTC",
                                catchup="latest", overlap=Schedule.SKIP, retries=2, retry_delay_seconds=60,
                                timeout_seconds=1800, grace_seconds=600)
        self.stdout.write("created schedule 'demo': the demo crawl every 15 minutes (edit it in the admin)")
