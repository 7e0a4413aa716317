"""GET /metrics: Prometheus text format, for a bearer token or an allow-listed address (access.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from webmon.metrics.access import decide
from webmon.metrics.collector import REGISTRY

DENIED = {401: "A valid bearer token is needed (METRICS_TOKEN).\n",
          403: "This address may not read /metrics (METRICS_ALLOW), and no token is configured.\n"}


@login_not_required  # Prometheus has no session: the token or the allow-list stands in for the login
@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    status, challenge = decide(request.META, settings.METRICS_TOKEN, settings.METRICS_ALLOW)
    if status != 200:
        response = HttpResponse(DENIED[status], status=status, content_type="text/plain; charset=utf-8")
        if challenge:
            response["WWW-Authenticate"] = challenge
        return response
    return HttpResponse(generate_latest(REGISTRY), content_type=CONTENT_TYPE_PLAIN_0_0_4)
