"""Reading a page's data so that a broken source becomes a banner, never a 500.

A view asks `Sources` for each part of its page: `history(read, default)`
for anything from the history DB, `luigid(read, default)` for luigid's API.
When a source fails, the page gets the default (an empty section) and one
banner naming the source and a short reason; later reads of a failed source
return their default at once, so a page never waits twice for a dead source.

`webmon(read, default)` reads webmon's own DB where a page shows what it
holds beside the history (the overview's schedules): a failure there is a
banner too, and the history parts of the page still render.

`runs(read, default)` reads our run records (crawl_runs and the tables
beside it). A history that stock Luigi wrote has none of them until
`manage.py prepare_history` or a worker of ours creates them: that is no
failure, so a missing run table gives the default and `no_run_records`,
never a banner (the page says there are no run records yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from django.db import DatabaseError, connections
from django.utils.translation import gettext as _

from webmon.exceptions import LuigidUnavailable
from webmon.monitor import luigid as luigid_api
from webmon.routers import HISTORY_ALIAS

T = TypeVar("T")


@dataclass(frozen=True)
class Banner:
    source: str  # "history", "luigid" or "webmon": the element id is banner-<source>
    text: str


def missing_sqlite_file() -> str | None:
    """The path of the history DB when it is a SQLite file that does not exist.

    Checked before connecting: sqlite3 would otherwise create an empty file
    where luigid is meant to create its own.
    """
    settings = connections[HISTORY_ALIAS].settings_dict
    name = str(settings.get("NAME") or "")
    if settings["ENGINE"].endswith("sqlite3") and name not in ("", ":memory:") and not name.startswith("file:"):
        if not Path(name).exists():
            return name
    return None


# What each backend says when a table does not exist.
_SQLITE_MISSING = "no such table"
_POSTGRES_UNDEFINED_TABLE = "42P01"
_MYSQL_NO_SUCH_TABLE = 1146


def is_missing_table(exc: BaseException) -> bool:
    """True when a database error says a table does not exist (and nothing else went wrong)."""
    cause = exc.__cause__ or exc
    if getattr(cause, "pgcode", None) == _POSTGRES_UNDEFINED_TABLE:
        return True
    args = getattr(cause, "args", ())
    if args and args[0] == _MYSQL_NO_SUCH_TABLE:
        return True
    return str(exc).startswith(_SQLITE_MISSING)


def short_reason(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[0] if lines else type(exc).__name__)[:200]


@dataclass
class Sources:
    banners: list[Banner] = field(default_factory=list)
    failed: set[str] = field(default_factory=set)

    no_run_records: bool = False  # our run tables are not in the history DB (yet)

    @property
    def history_ok(self) -> bool:
        return "history" not in self.failed

    def runs(self, read: Callable[[], T], default: T) -> T:
        """history(read, default) for a read of our run tables: a missing table is no failure."""
        if self.no_run_records:
            return default
        return self.history(read, default, tolerate_missing_tables=True)

    def history(self, read: Callable[[], T], default: T, *, tolerate_missing_tables: bool = False) -> T:
        if "history" in self.failed:
            return default
        missing = missing_sqlite_file()
        if missing:
            return self._fail("history", default, _("%(path)s does not exist (has luigid recorded any task yet?)")
                              % {"path": missing})
        try:
            return read()
        except (DatabaseError, ValueError) as exc:  # ValueError: undecodable values a writer left
            if tolerate_missing_tables and is_missing_table(exc):
                self.no_run_records = True
                return default
            return self._fail("history", default, short_reason(exc))

    def webmon(self, read: Callable[[], T], default: T) -> T:
        """A read of webmon's own DB (the scheduling tables): a failure is a banner, not a 500."""
        if "webmon" in self.failed:
            return default
        try:
            return read()
        except DatabaseError as exc:
            return self._fail("webmon", default, short_reason(exc))

    def luigid(self, read: Callable[[], T], default: T) -> T:
        if "luigid" in self.failed:
            return default
        try:
            return read()
        except LuigidUnavailable as exc:
            return self._fail("luigid", default, str(exc), url=luigid_api.public_url())

    def _fail(self, source: str, default: T, reason: str, url: str = "") -> T:
        self.failed.add(source)
        if source == "history":
            text = _("The task-history database cannot be read: %(reason)s") % {"reason": reason}
        elif source == "webmon":
            text = _("webmon's database cannot be read: %(reason)s; schedules are not shown.") % {"reason": reason}
        else:
            text = _("luigid at %(url)s does not answer (%(reason)s): running tasks and progress are not shown.") % {
                "url": url, "reason": reason}
        self.banners.append(Banner(source, text))
        return default
