"""A development HTTP cache: replay 200 responses from disk instead of the site.

Off unless [fetch] httpcache = true. Reads httpcache_dir (default
var/httpcache; one folder per crawl) and httpcache_expiration (seconds, 0 =
never expires). Meant for writing and debugging specs without hammering the
site; cached responses carry the flag "cached". A request with a method
other than GET or a body (a link hook's POST) is cached under its method
and body too.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

from pipelines.exceptions import NotConfigured
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, DownloaderMiddleware


class HttpCacheMiddleware(DownloaderMiddleware):
    name = "httpcache"

    def __init__(self, context: CrawlContext) -> None:
        super().__init__(context)
        if not self.settings.httpcache:
            raise NotConfigured("httpcache = false")
        self.dir = Path(self.settings.httpcache_dir) / context.spec.name
        self.dir.mkdir(parents=True, exist_ok=True)

    def _paths(self, request: Request) -> tuple[Path, Path]:
        digest = hashlib.sha1(request.url.encode("utf-8"))
        if not request.plain:
            digest.update(b"\0" + request.method.encode("ascii") + b"\0" + (request.body or b""))
        key = digest.hexdigest()
        return self.dir / f"{key}.json", self.dir / f"{key}.body"

    def process_request(self, request: Request) -> Request | Response | None:
        meta_path, body_path = self._paths(request)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            body = body_path.read_bytes()
        except (OSError, ValueError):
            self.context.stats.inc("httpcache/miss")
            return None
        expiration = self.settings.httpcache_expiration
        if expiration and time.time() - meta["stored"] > expiration:
            self.context.stats.inc("httpcache/expired")
            return None
        self.context.stats.inc("httpcache/hit")
        return Response(meta["url"], meta["status"], meta["reason"], [tuple(h) for h in meta["headers"]],
                        body, request, 0.0, flags={"cached"})

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status != 200 or "cached" in response.flags:
            return response
        meta_path, body_path = self._paths(request)
        for path, data in ((body_path, response.body), (meta_path, json.dumps({
            "url": response.url, "status": response.status, "reason": response.reason,
            "headers": response.headers, "stored": time.time()}).encode("utf-8"))):
            tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, path)  # a reader sees the old file or the new one, never half
        self.context.stats.inc("httpcache/store")
        return response
