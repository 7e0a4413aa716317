"""Each user's language and time zone: chosen on the Settings page, applied to every page.

How a page's language is chosen (docs/webmon.md, "Languages and time zones"):
1. the language the signed-in user chose on the Settings page;
2. else Django's LocaleMiddleware: the language cookie (set when a user saves a
   language, so the login page keeps it after logging out), then the browser's
   Accept-Language (zh-TW, zh-HK -> zh-hant; zh-CN, zh-SG -> zh-hans);
3. else settings.LANGUAGE_CODE (en).

Times are shown in the user's time zone (default UTC, settings.TIME_ZONE); every
time on a page names its zone, and one in a zone other than UTC carries its UTC
time as a title (templatetags/monitor.py: `when`, `utc`).

The choice lives in a UserPreference row and is copied into the session when the
user logs in and when the Settings page saves it: PreferencesMiddleware reads
the session only, so a page costs no extra query.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponseBase
from django.utils import timezone, translation

SESSION_LANGUAGE = "webmon_language"
SESSION_TIME_ZONE = "webmon_time_zone"

Handler = Callable[[HttpRequest], HttpResponseBase]


@cache
def time_zone_names() -> list[str]:
    """UTC first, then every IANA name this Python knows, sorted."""
    return ["UTC", *sorted(name for name in available_timezones() if name != "UTC" and "/" in name)]


@cache
def _zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return None


def remember(request: HttpRequest, language: str, time_zone: str) -> None:
    """Put a user's choice into the session (the middleware applies it from the next request on)."""
    request.session[SESSION_LANGUAGE] = language
    request.session[SESSION_TIME_ZONE] = time_zone


@receiver(user_logged_in, dispatch_uid="webmon.monitor.preferences.on_login")
def on_login(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """Copy the user's saved choice into the new session (one query, at login only)."""
    from webmon.monitor.models import UserPreference

    if request is None or not hasattr(request, "session"):
        return
    found = UserPreference.objects.filter(user=user).values_list("language", "time_zone").first()
    if found is None:
        request.session.pop(SESSION_LANGUAGE, None)
        request.session.pop(SESSION_TIME_ZONE, None)
    else:
        remember(request, *found)


class PreferencesMiddleware:
    """Activates the session's language and time zone; after LocaleMiddleware and AuthenticationMiddleware.

    Without a choice in the session the language LocaleMiddleware chose stands and
    times are in settings.TIME_ZONE (UTC). A chosen language is also written to the
    language cookie, as Django's set_language view does, so the login page keeps it.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        session = getattr(request, "session", None)
        language = session.get(SESSION_LANGUAGE, "") if session is not None else ""
        zone = _zone(session.get(SESSION_TIME_ZONE, "")) if session is not None else None
        if language and language in dict(settings.LANGUAGES):
            translation.activate(language)
            request.LANGUAGE_CODE = language  # type: ignore[attr-defined] - as LocaleMiddleware sets it
        else:
            language = ""
        if zone is not None:
            timezone.activate(zone)
        else:
            timezone.deactivate()
        response = self.get_response(request)
        if language and request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME) != language:
            set_language_cookie(response, language)
        return response


def set_language_cookie(response: HttpResponseBase, language: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME,
        language,
        max_age=settings.LANGUAGE_COOKIE_AGE,
        path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN,
        secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
        samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


def time_zone_context(request: HttpRequest) -> dict[str, str]:
    """`time_zone`: the name of the zone the page's times are shown in (UTC unless the user chose another)."""
    return {"time_zone": timezone.get_current_timezone_name()}
