"""`manage.py restoredb DB FILE [--yes] [--force]`: restore a database from a backup.

DB is history, items or webmon (the URLs the backups were made from: see
pipelines/maintenance/tasks.py); FILE is a `.sqlite.gz` or `.sql.gz` made by
BackupDatabase (a `<db>-latest...` link works). The current content is
replaced. Asks to type the database name unless --yes; refuses while a
crawlops service runs (a live pid in `[backup] run_dir`, or luigid answering)
unless --force: stop them first (./scheduler.sh stop).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from pipelines.maintenance.backup import DATABASES, BackupError
from pipelines.maintenance.restore import restore, services_running
from pipelines.maintenance.tasks import backup, database_url
from webmon.luigicfg import luigid_url


class Command(BaseCommand):
    help = "Replace a database (history, items or webmon) with the content of a backup file."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("db", choices=DATABASES, help="Which database to restore.")
        parser.add_argument("file", help="The backup file (.sqlite.gz or .sql.gz).")
        parser.add_argument("--yes", action="store_true", help="Do not ask for confirmation (scripts).")
        parser.add_argument("--force", action="store_true", help="Restore even while the services run.")

    def handle(self, *args: Any, **options: Any) -> None:
        db, path = options["db"], Path(options["file"])
        if not path.is_file():
            raise CommandError(f"{path} is not a file.")
        try:
            url = database_url(db)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        if not options["force"]:
            running = services_running(Path(backup().run_dir), _luigid_address())
            if running:
                raise CommandError(
                    f"refusing to restore the {db} DB while services run: {'; '.join(running)}."
                    " Stop them first (./scheduler.sh stop), or pass --force.")
        target = url.database if url.backend == "sqlite" else f"{url.backend} database {url.database}"
        if not options["yes"]:
            self.stdout.write(f"This replaces everything in the {db} DB ({target}) with {path}.")
            answer = input(f"Type '{db}' to confirm: ")
            if answer.strip() != db:
                raise CommandError("Not confirmed; nothing was changed.")
        connections.close_all()  # the webmon DB may be the one replaced
        try:
            restore(url, path)
        except BackupError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"Restored the {db} DB ({target}) from {path}.")


def _luigid_address() -> tuple[str, int] | None:
    parts = urlsplit(luigid_url())
    if not parts.hostname:
        return None
    return parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
