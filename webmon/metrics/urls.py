"""/metrics (no namespace: Prometheus configs name the path, not a view)."""

from __future__ import annotations

from django.urls import path

from webmon.metrics import views

urlpatterns = [path("metrics", views.metrics, name="metrics")]
