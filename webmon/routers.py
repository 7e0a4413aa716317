"""Database routers: Luigi's history DB and the items DB are read-only and never migrated.

Models of app label `history`, or any model with the class attribute
`lives_in_history_db = True`, are read from the `history` alias; models of
app label `items` (`lives_in_items_db = True`) from the `items` alias (the
items DB StoreItems writes). Everything else stays on `default` (webmon's own DB).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Model

HISTORY_ALIAS = "history"
HISTORY_APP_LABEL = "history"
ITEMS_ALIAS = "items"
ITEMS_APP_LABEL = "items"


def lives_in_history_db(model: type[Model]) -> bool:
    """True for models whose table is in Luigi's history DB."""
    return model._meta.app_label == HISTORY_APP_LABEL or getattr(model, "lives_in_history_db", False) is True


class HistoryRouter:
    """Reads of history models go to `history`; nothing is written or migrated there."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return HISTORY_ALIAS if lives_in_history_db(model) else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        # Never names `history`. Writes to history models are refused by the
        # models themselves (HistoryIsReadOnly) and by the read-only session;
        # raising here instead would break code that only asks for a write
        # alias to open a transaction (the admin's change view does).
        return None

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        # Foreign keys cannot cross databases.
        if lives_in_history_db(type(obj1)) != lives_in_history_db(type(obj2)):
            return False
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        model = hints.get("model")
        if db == HISTORY_ALIAS or app_label == HISTORY_APP_LABEL or (model is not None and lives_in_history_db(model)):
            return False
        return None


def lives_in_items_db(model: type[Model]) -> bool:
    """True for models whose table is in the items DB."""
    return model._meta.app_label == ITEMS_APP_LABEL or getattr(model, "lives_in_items_db", False) is True


class ItemsRouter:
    """Reads of item models go to `items`; nothing is written or migrated there (the workers own it)."""

    def db_for_read(self, model: type[Model], **hints: Any) -> str | None:
        return ITEMS_ALIAS if lives_in_items_db(model) else None

    def db_for_write(self, model: type[Model], **hints: Any) -> str | None:
        return None  # as HistoryRouter: the models refuse writes, the session is read-only

    def allow_relation(self, obj1: Model, obj2: Model, **hints: Any) -> bool | None:
        if lives_in_items_db(type(obj1)) != lives_in_items_db(type(obj2)):
            return False
        return None

    def allow_migrate(self, db: str, app_label: str, model_name: str | None = None, **hints: Any) -> bool | None:
        model = hints.get("model")
        if db == ITEMS_ALIAS or app_label == ITEMS_APP_LABEL or (model is not None and lives_in_items_db(model)):
            return False
        return None
