from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created
from django.utils.translation import gettext_lazy as _

from webmon.routers import HISTORY_ALIAS


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def decode_history_text_leniently(sender: Any, connection: Any, **kwargs: Any) -> None:
    """SQLite keeps whatever bytes a writer put in a TEXT column, invalid UTF-8 too.

    Python's sqlite3 raises on such bytes; a log line a task printed must not
    make a page fail, so the history alias decodes with replacement characters.
    """
    if connection.alias == HISTORY_ALIAS and connection.vendor == "sqlite":
        connection.connection.text_factory = _lenient_text


def no_jit_for_history_queries(sender: Any, connection: Any, **kwargs: Any) -> None:
    """PostgreSQL compiles a query with JIT when its estimated cost is high (jit_above_cost).

    webmon's queries are bounded (index ranges, LIMITs) but some add up many
    ranges: the families page's UNION ALL of 50 families x 1,000 runs spent
    ~200 ms compiling for ~60 ms of execution at a million runs. JIT pays off
    only for long analytical scans, which webmon never runs.
    """
    if connection.alias == HISTORY_ALIAS and connection.vendor == "postgresql":
        with connection.connection.cursor() as cursor:
            cursor.execute("SET jit = off")


class HistoryConfig(AppConfig):
    name = "webmon.history"
    label = "history"  # the router sends this label to the `history` DB alias
    verbose_name = _("Luigi task history")

    def ready(self) -> None:
        connection_created.connect(decode_history_text_leniently, dispatch_uid="webmon.history.lenient_text")
        connection_created.connect(no_jit_for_history_queries, dispatch_uid="webmon.history.no_jit")
