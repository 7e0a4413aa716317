"""`manage.py backfill SCHEDULE --start ... --end ... [--dry-run]`: queue a run per tick of a range.

SCHEDULE is a schedule's name or id. Times are ISO 8601, UTC unless an offset
is given; a date alone covers its whole day (00:00 as a start, 23:59 as an
end). Ticks that already have a run (of any trigger) are skipped; at most
1,000 ticks at a time. The trigger daemon starts the queued runs within the
schedule's maximum of active runs. With --dry-run the ticks are printed and
nothing is created.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from webmon.scheduling.forms import BackfillForm
from webmon.scheduling.models import Schedule


class Command(BaseCommand):
    help = "Queue one backfill run per tick of a schedule's cadence between --start and --end (inclusive)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("schedule", help="The schedule's name or id.")
        parser.add_argument("--start", required=True, help="ISO date or date-time, UTC unless an offset is given.")
        parser.add_argument("--end", required=True, help="ISO date or date-time (inclusive; a date means 23:59).")
        parser.add_argument("--dry-run", action="store_true", help="Print the ticks; create nothing.")

    def handle(self, *args: Any, **options: Any) -> None:
        schedule = find_schedule(options["schedule"])
        form = BackfillForm(schedule, data={"start": options["start"], "end": options["end"]})
        if not form.is_valid():
            raise CommandError(form.errors_text())
        plan = form.plan
        assert plan is not None
        skipped = len(plan.existing)
        if options["dry_run"]:
            local = ZoneInfo(schedule.timezone) if schedule.cron.strip() and schedule.timezone != "UTC" else None
            for tick in plan.ticks:
                note = "  (has a run: skipped)" if tick in plan.existing else ""
                where = f"  {tick.astimezone(local):%Y-%m-%d %H:%M} {schedule.timezone}" if local else ""
                self.stdout.write(f"{tick:%Y-%m-%dT%H:%M}Z{where}{note}")
            self.stdout.write(
                f"dry run: {len(plan.ticks)} ticks of {schedule.name}, {skipped} have a run already; "
                f"would queue {len(plan.new)} backfill runs"
            )
            return
        created = form.save(timezone.now())
        self.stdout.write(
            f"queued {created} backfill runs of {schedule.name} ({skipped} ticks skipped: they have a run already)"
        )


def find_schedule(key: str) -> Schedule:
    found = Schedule.objects.filter(name=key).first()
    if found is None and key.isdigit():
        found = Schedule.objects.filter(pk=int(key)).first()
    if found is None:
        names = ", ".join(Schedule.objects.order_by("name").values_list("name", flat=True)[:20]) or "none yet"
        raise CommandError(f"No schedule named or numbered {key!r}; schedules: {names}.")
    return found
