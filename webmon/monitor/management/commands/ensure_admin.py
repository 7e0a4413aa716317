"""`manage.py ensure_admin`: the first superuser, made on first start (scheduler.sh up runs it).

When no superuser exists, it creates `admin` with the password in
WEBMON_ADMIN_PASSWORD, or a generated one printed once on stdout (for the
person running `up`) and written nowhere else: not in a file, not in a log.
When a superuser exists it changes nothing and says nothing (unless -v 2).
"""

from __future__ import annotations

import os
import secrets
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Create the superuser `admin` if there is no superuser yet (password: WEBMON_ADMIN_PASSWORD or generated)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin", help="Name of the user to create (default: admin).")

    def handle(self, *args: Any, **options: Any) -> None:
        users = get_user_model()
        if users.objects.filter(is_superuser=True).exists():
            if options["verbosity"] > 1:
                self.stdout.write("webmon: a superuser exists; no user created")
            return
        password = os.environ.get("WEBMON_ADMIN_PASSWORD", "").strip()
        generated = not password
        if generated:
            password = secrets.token_urlsafe(18)
        users.objects.create_superuser(options["username"], email="", password=password)
        if generated:
            self.stdout.write(
                f"webmon: created user {options['username']} with password {password}\n"
                "        (shown this once and stored nowhere else; change it at /admin/password_change/)"
            )
        else:
            self.stdout.write(f"webmon: created user {options['username']} with the password in WEBMON_ADMIN_PASSWORD")
