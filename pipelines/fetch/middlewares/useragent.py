"""User-agent rotation: each request gets one of [fetch] user_agents (or user_agents_file).

Without a list every request carries [fetch] user_agent (the downloader's
default header), and this middleware stays out of the chain.
"""

from __future__ import annotations

import random

from pipelines.exceptions import NotConfigured
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, DownloaderMiddleware


class UserAgentMiddleware(DownloaderMiddleware):
    name = "useragent"

    def __init__(self, context: CrawlContext) -> None:
        super().__init__(context)
        if not self.settings.user_agents:
            raise NotConfigured("no user_agents list")
        self.agents = list(self.settings.user_agents)

    def process_request(self, request: Request) -> Request | Response | None:
        if "User-Agent" not in request.headers:
            request.headers["User-Agent"] = random.choice(self.agents)
        return None
