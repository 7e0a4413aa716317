"""Model fields for columns written by Luigi."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Expression
from django.utils.dateparse import parse_datetime

from webmon.history.timestamps import aware


class LuigiTimestampField(models.DateTimeField):
    """A naive-UTC TIMESTAMP column read as aware UTC datetimes.

    Its own internal type keeps Django's backend converters away from the
    value (with USE_TZ they would attach the connection's zone on SQLite and
    MySQL and leave PostgreSQL's naive), so the one conversion is `aware()`.
    Writing and filtering work as for a DateTimeField: Django sends aware
    values as UTC, which is what Luigi stored.
    """

    def get_internal_type(self) -> str:
        return "LuigiTimestampField"

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        return models.DateTimeField().db_type(connection)

    def from_db_value(self, value: Any, expression: Expression, connection: BaseDatabaseWrapper) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            # SQLite hands back text when it cannot see the column type
            # (aggregates such as Max("ts")).
            parsed = parse_datetime(value)
            if parsed is None:
                raise ValueError(f"not a timestamp in the Luigi history DB: {value!r}")
            value = parsed
        return aware(value)
