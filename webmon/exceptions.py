"""Every exception webmon defines, with who raises it and who catches it."""

from __future__ import annotations


class HistoryIsReadOnly(Exception):
    """A write was attempted on Luigi's history DB, which webmon only reads.

    Raised by the history models (save, delete, queryset writes); luigid and
    the workers own those tables. Nobody catches it: it is always a bug.
    """
