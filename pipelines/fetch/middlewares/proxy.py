"""Proxy pool: requests go out through [fetch] proxies (or proxies_file), round robin.

Reads [fetch] proxies, proxies_file, proxy_max_failures. Each proxy's
consecutive failures are counted (connection errors and timeouts through it,
and 407 answers); at proxy_max_failures it is dropped for the rest of the
crawl. A request whose proxy failed is sent again through another proxy
without spending one of its retries. When every proxy is dropped the URL fails
as `no_live_proxy`: it is never sent without a proxy. Credentials in proxy
URLs are never logged (`mask`).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from urllib.parse import urlsplit

from pipelines.exceptions import ConnectionFailed, FetchError, FetchTimeout, IgnoreRequest, NotConfigured
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, DownloaderMiddleware

log = logging.getLogger("pipelines.fetch")


def mask(proxy: str) -> str:
    """The proxy URL without its user and password, for logs and stats."""
    parts = urlsplit(proxy)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{'***@' if parts.username else ''}{host}{f':{parts.port}' if parts.port else ''}"


class ProxyPoolMiddleware(DownloaderMiddleware):
    name = "proxy"

    def __init__(self, context: CrawlContext) -> None:
        super().__init__(context)
        if not self.settings.proxies:
            raise NotConfigured("no proxies")
        self.live = list(dict.fromkeys(self.settings.proxies))
        self.failures: Counter[str] = Counter()
        self._next = 0
        self._lock = threading.Lock()

    def process_request(self, request: Request) -> Request | Response | None:
        if request.meta.get("proxy"):
            return None
        with self._lock:
            if not self.live:
                raise IgnoreRequest("no_live_proxy", "failed")
            proxy = self.live[self._next % len(self.live)]
            self._next += 1
        request.meta["proxy"] = proxy
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        proxy = request.meta.get("proxy")
        if not proxy:
            return response
        if response.status == 407:
            return self._failed(request, proxy, "proxy_auth") or response
        with self._lock:
            self.failures[proxy] = 0
        self.context.stats.inc(f"proxy/responses/{mask(proxy)}")
        return response

    def process_exception(self, request: Request, error: FetchError) -> Request | Response | None:
        proxy = request.meta.get("proxy")
        if not proxy or not isinstance(error, (ConnectionFailed, FetchTimeout)):
            return None
        return self._failed(request, proxy, error.reason)

    def _failed(self, request: Request, proxy: str, reason: str) -> Request | None:
        with self._lock:
            self.failures[proxy] += 1
            if self.failures[proxy] >= self.settings.proxy_max_failures and proxy in self.live:
                self.live.remove(proxy)
                log.warning("dropped proxy %s after %d failures in a row (last: %s); %d left",
                            mask(proxy), self.failures[proxy], reason, len(self.live))
                self.context.stats.inc("proxy/dropped")
            others = [p for p in self.live if p != proxy]
        self.context.stats.inc(f"proxy/failures/{reason}")
        switches = request.meta.get("proxy_switches", 0)
        if not others or switches >= len(self.settings.proxies):
            return None  # the retry middleware decides, or the error stands
        again = request.replace()
        again.meta.pop("proxy", None)
        again.meta["proxy_switches"] = switches + 1
        return again
