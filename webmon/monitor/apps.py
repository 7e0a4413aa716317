from __future__ import annotations

from django.apps import AppConfig


class MonitorConfig(AppConfig):
    name = "webmon.monitor"
    label = "monitor"
    verbose_name = "Crawl monitor"
