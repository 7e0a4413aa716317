from __future__ import annotations

from django.apps import AppConfig


class HistoryConfig(AppConfig):
    name = "webmon.history"
    label = "history"  # the router sends this label to the `history` DB alias
    verbose_name = "Luigi task history"
