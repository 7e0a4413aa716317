from __future__ import annotations

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MonitorConfig(AppConfig):
    name = "webmon.monitor"
    label = "monitor"
    verbose_name = _("Crawl monitor")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from webmon.monitor import preferences  # noqa: F401 - connects the login signal's receiver
