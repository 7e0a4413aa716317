"""/healthz checks: does each part webmon depends on answer now?

Each check returns True or False and nothing else: /healthz is public, so it
names the part that failed and never says why (reasons can hold paths, hosts
or user names). The pages' banners give reasons to logged-in users.
"""

from __future__ import annotations

from django.db import DatabaseError, connections

from webmon.exceptions import LuigidUnavailable
from webmon.history.models import CrawlRun, TaskRecord
from webmon.monitor import luigid
from webmon.monitor.sources import is_missing_table, missing_sqlite_file


def webmon_db_answers() -> bool:
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() is not None
    except DatabaseError:
        return False


def history_db_answers() -> bool:
    """True when Luigi's `tasks` can be read, and our run records too where they exist.

    A history stock Luigi wrote has no run tables of ours until
    `manage.py prepare_history` (or a worker of ours) creates them: not a failure.
    """
    if missing_sqlite_file():
        return False
    try:
        list(TaskRecord.objects.values_list("id")[:1])
    except DatabaseError:
        return False
    try:
        list(CrawlRun.objects.values_list("id")[:1])
    except DatabaseError as exc:
        return is_missing_table(exc)
    return True


def luigid_answers() -> bool:
    try:
        luigid.call(
            "task_list", {"status": "RUNNING", "upstream_status": "", "search": "", "limit": True, "max_shown_tasks": 1}
        )
    except LuigidUnavailable:
        return False
    return True


CHECKS = {"webmon_db": webmon_db_answers, "history_db": history_db_answers, "luigid": luigid_answers}


def check_all() -> dict[str, bool]:
    return {name: check() for name, check in CHECKS.items()}
