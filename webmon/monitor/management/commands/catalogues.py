"""`manage.py catalogues`: update locale/*/LC_MESSAGES/django.po from webmon/ and compile them; --check only checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from webmon.monitor.catalogues import compile_messages, make_messages, problems


class Command(BaseCommand):
    help = ("Extract webmon's marked strings into locale/<language>/LC_MESSAGES/django.po and compile the .mo "
            "files; with --check, change nothing and fail on a missing, untranslated or fuzzy string or a stale .mo.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--check", action="store_true", help="Check only (exit 1 with a list of problems).")

    def handle(self, *args: Any, check: bool = False, **options: Any) -> None:
        root = Path(settings.LOCALE_PATHS[0])
        if check:
            found = problems(root)
            if found:
                raise CommandError("catalogues are not up to date:\n" + "\n".join(found))
            self.stdout.write("catalogues up to date")
            return
        make_messages(root)
        compile_messages(root)
        self.stdout.write(f"updated and compiled the catalogues in {root}; translate what is new (msgstr \"\")")
