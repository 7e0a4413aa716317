"""ASGI entry point: `uvicorn webmon.asgi:application`, run from the repository root."""

from __future__ import annotations

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmon.settings")

application = get_asgi_application()
