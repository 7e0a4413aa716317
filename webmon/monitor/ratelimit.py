"""Login rate limiting: failed logins counted per username and per client address.

LoginRateLimitMiddleware watches POSTs to the login pages (the monitor's and
the admin's). A POST answered with the login form again (status 200) is a
failure; a redirect is a success and clears the username's count. Once a
username has WEBMON_LOGIN_FAILURES failures, or a client address
WEBMON_LOGIN_FAILURES_PER_IP, within WEBMON_LOGIN_WINDOW_S seconds, further
login POSTs for it get 429 without being checked, until the window (which
starts at the first failure) ends.

Counts live in Django's cache: the default LocMemCache is per process, so a
multi-process server (gunicorn) needs a shared cache; the production profile
uses the database cache (`manage.py createcachetable`). Behind a proxy
(BEHIND_TLS_PROXY=true) the client address is the last X-Forwarded-For entry,
the one the proxy added.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.urls import reverse

Handler = Callable[[HttpRequest], HttpResponseBase]


def client_ip(request: HttpRequest) -> str:
    if getattr(settings, "BEHIND_TLS_PROXY", False):
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if forwarded.strip():
            return forwarded.split(",")[-1].strip()
    return request.META.get("REMOTE_ADDR", "") or "unknown"


def _keys(request: HttpRequest) -> tuple[str, str]:
    username = (request.POST.get("username") or "").strip().lower()
    user_key = "login-fail:user:" + hashlib.sha256(username.encode()).hexdigest()
    ip_key = "login-fail:ip:" + hashlib.sha256(client_ip(request).encode()).hexdigest()
    return user_key, ip_key


def _count(key: str) -> int:
    return int(cache.get(key) or 0)


def _add_failure(key: str, window: int) -> None:
    cache.add(key, 0, timeout=window)  # the window starts at the first failure
    try:
        cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, timeout=window)


class LoginRateLimitMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response
        self._paths: set[str] | None = None

    def login_paths(self) -> set[str]:
        if self._paths is None:
            self._paths = {reverse("monitor:login"), reverse("admin:login")}
        return self._paths

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method != "POST" or request.path not in self.login_paths():
            return self.get_response(request)
        window = settings.WEBMON_LOGIN_WINDOW_S
        user_key, ip_key = _keys(request)
        if (_count(user_key) >= settings.WEBMON_LOGIN_FAILURES
                or _count(ip_key) >= settings.WEBMON_LOGIN_FAILURES_PER_IP):
            minutes = max(1, round(window / 60))
            response = HttpResponse(
                "Too many failed logins for this user name or from this address: "
                f"try again in up to {minutes} minute{'s' if minutes != 1 else ''}.\n",
                status=429, content_type="text/plain; charset=utf-8",
            )
            response["Retry-After"] = str(window)
            return response
        response = self.get_response(request)
        if response.status_code == 200:  # the form again: wrong credentials
            _add_failure(user_key, window)
            _add_failure(ip_key, window)
        elif response.status_code in (301, 302, 303):
            cache.delete(user_key)
        return response
