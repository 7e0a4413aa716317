"""manage.py prepare_history: create our run tables and the indexes webmon's pages need in the history DB.

Run by `./scheduler.sh up`; run it once by hand when webmon is pointed at a
history an existing luigid wrote (docs/webmon.md). Reads the history URL from
luigi.cfg `[task_history] db_connection` (LUIGI_CONFIG_PATH), or --url.
Safe to run again, and while luigid writes.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from webmon.history.prepare import HistoryUnreachable, prepare
from webmon.luigicfg import history_db_url


class Command(BaseCommand):
    help = "Create the run tables and the indexes on Luigi's tables that webmon needs in the history DB."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--url", help="SQLAlchemy URL of the history DB (default: luigi.cfg's)")

    def handle(self, *args: Any, **options: Any) -> None:
        url = options["url"] or history_db_url()
        verbose = options["verbosity"] >= 1
        try:
            done = prepare(url, say=lambda text: self.stdout.write(text) if verbose else None)
        except HistoryUnreachable as exc:
            raise CommandError(f"{str(exc)[0].upper()}{str(exc)[1:]}.") from None
        if verbose and not (done.created_tables or done.created_indexes):
            self.stdout.write("The history DB was ready: nothing to create.")
