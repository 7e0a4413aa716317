"""WSGI entry point: `gunicorn webmon.wsgi`, run from the repository root."""

from __future__ import annotations

import os

from django.core.servers import basehttp
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webmon.settings")

# `manage.py runserver` (what scheduler.sh up serves webmon with) writes the
# headers and the body of a response in separate send()s; with Nagle's
# algorithm on, the body waits for the client's delayed ACK of the headers:
# +40 ms on every request of a kept-alive connection (every browser's).
# runserver loads this module before it serves; gunicorn never uses basehttp.
basehttp.WSGIRequestHandler.disable_nagle_algorithm = True

application = get_wsgi_application()
