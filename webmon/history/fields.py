"""Model fields for timestamp columns in the history DB.

Luigi's TIMESTAMP columns (task_events.ts) and our run tables' UTCDateTime
columns (pipelines/runs/models.py) hold the same thing: naive UTC, written by
SQLAlchemy. One field reads both, so the naive -> aware conversion stays in
one place (webmon/history/timestamps.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models.expressions import Col, Expression
from django.utils.dateparse import parse_datetime

from webmon.history.timestamps import aware

# How SQLAlchemy writes a DateTime/TIMESTAMP into SQLite's TEXT. SQLite
# compares these as strings, so a bound value must have the same shape:
# Django's own form drops ".000000", and "10:00:00" < "10:00:00.000000".
SQLALCHEMY_SQLITE_FORMAT = "%Y-%m-%d %H:%M:%S.%f"


class LuigiTimestampField(models.DateTimeField):
    """A naive-UTC TIMESTAMP column read as aware UTC datetimes.

    Its own internal type keeps Django's backend converters away from the
    value (with USE_TZ they would attach the connection's zone on SQLite and
    MySQL and leave PostgreSQL's naive), so the one conversion is `aware()`.
    Filtering works as for a DateTimeField: aware values are sent as naive
    UTC, which is what was stored (on SQLite in SQLAlchemy's text form).
    """

    def get_internal_type(self) -> str:
        return "LuigiTimestampField"

    def db_type(self, connection: BaseDatabaseWrapper) -> str | None:
        return models.DateTimeField().db_type(connection)

    def get_db_prep_value(self, value: Any, connection: BaseDatabaseWrapper, prepared: bool = False) -> Any:
        if not prepared:
            value = self.get_prep_value(value)
        if isinstance(value, datetime) and connection.vendor == "sqlite":
            if value.tzinfo is not None:
                value = value.astimezone(UTC).replace(tzinfo=None)
            return value.strftime(SQLALCHEMY_SQLITE_FORMAT)
        return super().get_db_prep_value(value, connection, prepared=True)

    def from_db_value(self, value: Any, expression: Expression, connection: BaseDatabaseWrapper) -> datetime | None:
        if value is None:
            if not self.null and isinstance(expression, Col):
                # SQLite's converter turns text that is no timestamp into None.
                raise ValueError(f"a value of {self.model.__name__}.{self.name} is not a timestamp")
            return None
        if isinstance(value, str):
            # SQLite hands back text when it cannot see the column type
            # (aggregates such as Max("ts")).
            parsed = parse_datetime(value)
            if parsed is None:
                raise ValueError(f"not a timestamp in the Luigi history DB: {value!r}")
            value = parsed
        return aware(value)
