"""Small helpers shared by the views."""

from __future__ import annotations

from django.http import QueryDict

from webmon.history.queries import Cursor


def query_with(params: QueryDict, **changes: str | Cursor | None) -> str:
    """`params` as a query string with some keys replaced (None removes a key)."""
    result = params.copy()
    for key, value in changes.items():
        result.pop(key, None)
        if value is not None:
            result[key] = value.encode() if isinstance(value, Cursor) else value
    return result.urlencode()
