"""Request middleware: timing, a JSON log line per request, security headers.

RequestLogMiddleware goes first in settings.MIDDLEWARE so its time covers
everything else. It gives each request an id (uuid4), sent back as
X-Request-ID, and the time to produce the response as X-Page-Duration-ms;
then it logs one line to the logger `webmon.requests` (formatted as JSON by
webmon.monitor.jsonlog) and counts the response by status class for
/metrics. Only the path is logged, never the query string: it can hold
search terms or tokens. Streaming responses are timed to their
first byte.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

from webmon.metrics import http as http_metrics

log = logging.getLogger("webmon.requests")

Handler = Callable[[HttpRequest], HttpResponseBase]


class RequestLogMiddleware:
    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = str(uuid.uuid4())
        request.request_id = request_id  # type: ignore[attr-defined] - for views and templates
        started = time.perf_counter()
        response = self.get_response(request)
        duration_ms = round((time.perf_counter() - started) * 1000, 1)
        response["X-Request-ID"] = request_id
        response["X-Page-Duration-ms"] = f"{duration_ms}"
        http_metrics.count(response.status_code)  # crawl_http_responses_total
        user = getattr(request, "user", None)
        log.info(
            "request",
            extra={
                "json": {
                    "request_id": request_id,
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": duration_ms,
                    "user_id": user.pk if user is not None and user.is_authenticated else None,
                }
            },
        )
        return response


class SecurityHeadersMiddleware:
    """The headers Django's SecurityMiddleware does not set: Content-Security-Policy and Permissions-Policy.

    The policy allows scripts and styles from webmon's own static files only,
    so no inline script or style attribute runs even if escaping failed.
    """

    def __init__(self, get_response: Handler) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", settings.CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
        return response
