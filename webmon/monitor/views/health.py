"""/healthz: 200 when the databases and luigid answer, 503 naming what did not. Public."""

from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache

from webmon.monitor.health import check_all


@login_not_required
@never_cache
def healthz(request: HttpRequest) -> JsonResponse:
    checks = check_all()
    failed = [name for name, ok in checks.items() if not ok]
    return JsonResponse(
        {
            "status": "fail" if failed else "ok",
            "failed": failed,
            "checks": {name: "ok" if ok else "fail" for name, ok in checks.items()},
        },
        status=503 if failed else 200,
    )
