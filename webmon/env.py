"""Typed readers of environment variables for settings.py.

Each helper returns the default when the variable is unset or empty (compose
files and systemd units often pass empty values) and otherwise refuses a bad
value with ImproperlyConfigured naming the variable, the value and what was
expected, so a typo stops the process at start instead of misbehaving later.
Values are echoed in those messages: never read a secret with a helper that
validates (env_str does not, so SECRET_KEY is safe with it).
"""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

_TRUE = ("true", "1", "yes")
_FALSE = ("false", "0", "no")


def _raw(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None


def env_str(name: str, default: str) -> str:
    """The variable as text, or `default`."""
    value = _raw(name)
    return default if value is None else value


def env_bool(name: str, default: bool) -> bool:
    """true/false/1/0/yes/no (any case), or `default`."""
    value = _raw(name)
    if value is None:
        return default
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise ImproperlyConfigured(f"{name}={value}: expected one of true/false/1/0/yes/no")


def env_int(name: str, default: int, *, minimum: int | None = None) -> int:
    """A whole number (at least `minimum` when given), or `default`."""
    value = _raw(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value}: expected a whole number") from None
    if minimum is not None and number < minimum:
        raise ImproperlyConfigured(f"{name}={value}: expected a whole number of at least {minimum}")
    return number


def env_list(name: str, default: list[str]) -> list[str]:
    """Comma-separated items, stripped, or `default`; an empty item is refused."""
    value = _raw(name)
    if value is None:
        return list(default)
    items = [item.strip() for item in value.split(",")]
    if not all(items):
        raise ImproperlyConfigured(f"{name}={value}: expected comma-separated items with none empty")
    return items


def env_http_url(name: str, default: str) -> str:
    """An http:// or https:// URL with a host, or `default` (checked the same way).

    The value is not echoed: a URL may carry a password.
    """
    from urllib.parse import urlsplit  # noqa: PLC0415

    value = _raw(name) or default
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(
            f"{name}: expected an http:// or https:// URL with a host, such as http://127.0.0.1:8082"
        )
    return value


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    """One of `choices` (any case, returned as written in `choices`), or `default`."""
    value = _raw(name)
    if value is None:
        return default
    for choice in choices:
        if value.lower() == choice.lower():
            return choice
    raise ImproperlyConfigured(f"{name}={value}: expected one of {'/'.join(choices)}")
