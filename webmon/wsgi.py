"""WSGI entry point: `gunicorn webmon.wsgi`, run from the repository root."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmon.settings")

application = get_wsgi_application()
