"""Helpers of the production profile in settings.py: ADMINS from the environment, Sentry.

Kept out of settings.py so tests can call them; nothing here touches the
database or Django's app registry.
"""

from __future__ import annotations

import re

from django.core.exceptions import ImproperlyConfigured

_ADDRESS = re.compile(r"^[^@\s<>,]+@[^@\s<>,]+\.[^@\s<>,]+$")
_NAMED = re.compile(r"^(?P<name>[^<>]*?)\s*<(?P<email>[^<>]+)>$")


def parse_admins(value: str) -> list[tuple[str, str]]:
    """ADMINS as Django 5.2 wants it, from "Name <a@b.org>, c@d.org" (a bare address is its own name)."""
    admins: list[tuple[str, str]] = []
    if not value.strip():
        return admins
    for item in value.split(","):
        item = item.strip()
        match = _NAMED.match(item)
        name, email = (match["name"].strip(), match["email"].strip()) if match else ("", item)
        if not _ADDRESS.match(email):
            raise ImproperlyConfigured(
                f"ADMINS: {item!r} is not an address; expected comma-separated entries such as "
                "'Ops Team <ops@example.com>, alice@example.com'."
            )
        admins.append((name or email, email))
    return admins


def init_sentry(dsn: str, *, environment: str, release: str | None = None) -> bool:
    """Start sentry-sdk's Django integration when a DSN is given; without one nothing is set up or sent."""
    if not dsn:
        return False
    import sentry_sdk  # noqa: PLC0415 - only imported when used
    from sentry_sdk.integrations.django import DjangoIntegration  # noqa: PLC0415

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release,
        integrations=[DjangoIntegration()],
        send_default_pii=False,  # no user names, IP addresses, cookies or request bodies
        traces_sample_rate=0.0,  # errors only
    )
    return True
