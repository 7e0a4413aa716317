"""Response size limit: a body over [fetch] max_bytes fails the URL as `too_large`.

The downloader enforces the limit while reading (it stops at the limit, it
never buffers a 20 MB body to throw it away); this middleware sets it on
each request, so another middleware may raise or lower it per request.
"""

from __future__ import annotations

from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import DownloaderMiddleware


class SizeLimitMiddleware(DownloaderMiddleware):
    name = "sizelimit"

    def process_request(self, request: Request) -> Request | Response | None:
        request.meta.setdefault("max_bytes", self.settings.max_bytes)
        return None
