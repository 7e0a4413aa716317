from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.db.backends.signals import connection_created

from webmon.routers import ITEMS_ALIAS


def _lenient_text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def prepare_items_connection(sender: Any, connection: Any, **kwargs: Any) -> None:
    """As for the history alias: SQLite text that is not UTF-8 is decoded with replacement characters
    (an item's data must not make a page fail), and PostgreSQL compiles no query with JIT."""
    if connection.alias != ITEMS_ALIAS:
        return
    if connection.vendor == "sqlite":
        connection.connection.text_factory = _lenient_text
    elif connection.vendor == "postgresql":
        with connection.connection.cursor() as cursor:
            cursor.execute("SET jit = off")


class ItemsConfig(AppConfig):
    name = "webmon.items"
    label = "items"  # the router sends this label to the `items` DB alias
    verbose_name = "Crawled items"

    def ready(self) -> None:
        connection_created.connect(prepare_items_connection, dispatch_uid="webmon.items.connection")
