"""Every exception webmon defines, with who raises it and who catches it."""

from __future__ import annotations


class HistoryIsReadOnly(Exception):
    """A write was attempted on Luigi's history DB, which webmon only reads.

    Raised by the history models (save, delete, queryset writes); luigid and
    the workers own those tables. Nobody catches it: it is always a bug.
    """


class LuigidUnavailable(Exception):
    """luigid's API did not answer, or answered something that is not its JSON.

    Raised by webmon.monitor.luigid; caught by the page sources
    (webmon.monitor.sources), which show a banner, and by /healthz. The
    message is short and safe to show: it never holds the URL's credentials.
    """


class ItemsAreReadOnly(Exception):
    """A write was attempted on the items DB, which webmon only reads.

    Raised by the item models (webmon/items/models.py); the workers' StoreItems
    owns those tables. Nobody catches it: it is always a bug.
    """
