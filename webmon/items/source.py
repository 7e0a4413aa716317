"""Reading the items DB so that a broken one becomes a banner, never a 500 (as webmon/monitor/sources.py does
for the history DB).

No items DB yet is no failure: a SQLite file that does not exist (checked
before connecting, so webmon never creates one where StoreItems will) or
tables that do not exist (no tick stored yet) give the default and
`no_items`, and the page says no items are stored yet. Anything else (a
server down, a file that is no database, a locked DB) gives the banner
`#banner-items` and the default; later reads return their default at once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from django.db import DatabaseError, connections
from django.utils.translation import gettext as _

from webmon.monitor.sources import Banner, is_missing_table, short_reason
from webmon.routers import ITEMS_ALIAS

T = TypeVar("T")


def missing_sqlite_file() -> str | None:
    settings = connections[ITEMS_ALIAS].settings_dict
    name = str(settings.get("NAME") or "")
    if settings["ENGINE"].endswith("sqlite3") and name not in ("", ":memory:") and not name.startswith("file:"):
        if not Path(name).exists():
            return name
    return None


@dataclass
class ItemsSource:
    banners: list[Banner] = field(default_factory=list)
    failed: bool = False
    no_items: bool = False  # no items DB file or no items tables yet

    @property
    def ok(self) -> bool:
        return not self.failed and not self.no_items

    def read(self, read: Callable[[], T], default: T) -> T:
        if self.failed or self.no_items:
            return default
        if missing_sqlite_file():
            self.no_items = True
            return default
        try:
            return read()
        except (DatabaseError, ValueError) as exc:  # ValueError: a value that is not what the column says
            if is_missing_table(exc):
                self.no_items = True
                return default
            self.failed = True
            self.banners.append(Banner("items", _("The items database cannot be read: %(reason)s")
                                       % {"reason": short_reason(exc)}))
            return default
