"""Default request headers: [fetch] headers, unless the request has its own."""

from __future__ import annotations

from pipelines.exceptions import NotConfigured
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, DownloaderMiddleware


class DefaultHeadersMiddleware(DownloaderMiddleware):
    name = "headers"

    def __init__(self, context: CrawlContext) -> None:
        super().__init__(context)
        if not self.settings.headers:
            raise NotConfigured("no [fetch] headers")
        self.headers = dict(self.settings.headers)

    def process_request(self, request: Request) -> Request | Response | None:
        for name, value in self.headers.items():
            request.headers.setdefault(name, value)
        return None
