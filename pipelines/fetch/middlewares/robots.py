"""robots.txt: URLs a site disallows are skipped with reason `robots`.

Reads [fetch] obey_robots and user_agent. One robots.txt per origin, fetched
once (other threads for that origin wait for it) and cached for the crawl.
A robots.txt that is missing or errors allows everything, as Scrapy does. It
is fetched through the whole middleware chain (proxies, user agent, cookies).
"""

from __future__ import annotations

import logging
import threading

from protego import Protego

from pipelines.exceptions import FetchError, IgnoreRequest, NotConfigured
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, DownloaderMiddleware

log = logging.getLogger("pipelines.fetch")


class RobotsTxtMiddleware(DownloaderMiddleware):
    name = "robots"

    def __init__(self, context: CrawlContext) -> None:
        super().__init__(context)
        if not self.settings.obey_robots:
            raise NotConfigured("obey_robots = false")
        self._rules: dict[str, Protego | None] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def process_request(self, request: Request) -> Request | Response | None:
        if request.meta.get("robots_txt"):
            return None  # our own robots.txt request
        origin = "/".join(request.url.split("/", 3)[:3])
        rules = self._rules.get(origin, False)
        if rules is False:
            rules = self._load(origin)
        agent = request.headers.get("User-Agent", self.settings.user_agent)
        if rules is not None and not rules.can_fetch(request.url, agent):
            raise IgnoreRequest("robots")
        return None

    def _load(self, origin: str) -> Protego | None:
        with self._guard:
            lock = self._locks.setdefault(origin, threading.Lock())
        with lock:
            if origin in self._rules:
                return self._rules[origin]
            rules = self._fetch(origin)
            self._rules[origin] = rules
            return rules

    def _fetch(self, origin: str) -> Protego | None:
        # Through the whole chain: the same proxy, user agent and cookies as the pages.
        request = Request(origin + "/robots.txt", meta={"robots_txt": True})
        manager = self.context.manager
        assert manager is not None
        response = None
        for _ in range(self.settings.max_redirects + 1):
            try:
                result = manager.download(request)
            except (FetchError, IgnoreRequest) as exc:
                log.info("robots.txt of %s unavailable (%s); crawling as allowed", origin, exc)
                return None
            if isinstance(result, Response):
                response = result
                break
            if "redirect_response" not in result.meta:
                break  # a retry: not worth holding a worker thread for; allow
            request = result
            request.meta.pop("redirect_response", None)
            request.meta["robots_txt"] = True
        self.context.stats.inc("robots/requests")
        if response is None or response.status != 200:
            return None
        return Protego.parse(response.body.decode(response.encoding or "utf-8", "replace"))
