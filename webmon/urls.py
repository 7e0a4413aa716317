"""URLs of webmon: the monitor's pages at the root, schedules under /schedules/, a crawl's items under
/crawl/items/ and /crawl/tick/, Django's admin under /admin/, Prometheus's /metrics."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

urlpatterns = [
    path("admin/", admin.site.urls),
    path("", include("webmon.metrics.urls")),
    path("", include("webmon.scheduling.urls")),
    path("", include("webmon.items.urls")),
    path("", include("webmon.monitor.urls")),
]
