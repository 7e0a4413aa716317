"""`manage.py ensure_maintenance_schedules`: the default backup and prune schedules.

Each is created only when no schedule of its name exists, so an operator's
edits (another cron, disabled) stand; delete one and it comes back on the
next `scheduler.sh up`: disable it instead. `scheduler.sh up` runs this.

- backup-history, backup-items, backup-webmon: BackupDatabase daily at 02:00 UTC;
- prune-history: PruneHistory (task history older than 90 days) Sundays at 03:00 UTC.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from webmon.scheduling.models import MAINTENANCE_DBS, Schedule

COMMON = {"timezone": "UTC", "catchup": "latest", "overlap": Schedule.SKIP, "retries": 2,
          "retry_delay_seconds": 300, "timeout_seconds": 3600, "grace_seconds": 3600}


def defaults() -> list[dict[str, Any]]:
    backups = [{"name": f"backup-{db}", "task": Schedule.BACKUP, "task_params": {"db": db}, "cron": "0 2 * * *"}
               for db in MAINTENANCE_DBS]
    prune = {"name": "prune-history", "task": Schedule.PRUNE, "task_params": {"older_than_days": 90},
             "cron": "0 3 * * 0"}
    return [{**COMMON, **spec} for spec in [*backups, prune]]


class Command(BaseCommand):
    help = "Create the default maintenance schedules (daily backups, weekly prune) that do not exist by name."

    def handle(self, *args: Any, **options: Any) -> None:
        for spec in defaults():
            schedule = Schedule(**spec)
            if Schedule.objects.filter(name=schedule.name).exists():
                continue
            schedule.full_clean()
            schedule.save()
            self.stdout.write(f"created schedule {schedule.name!r}: {schedule.task} {schedule.task_params} "
                              f"at {schedule.cron} UTC (edit it in the admin)")
