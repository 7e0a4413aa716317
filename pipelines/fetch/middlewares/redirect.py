"""Redirects: follow 301/302/303/307/308 up to [fetch] max_redirects hops.

A redirect becomes a new request for the target (the crawler stores the 3xx
response and records the source URL as fetched, reason `redirect`). A target
already in the chain fails the URL as `redirect_loop` (a page may redirect to
itself once, as cookie walls do); too many hops as
`max_redirects`; a target matching [fetch] error_redirects (e.g. /404.html)
flags the response `error_redirect`, which the retry middleware retries and
the crawler records as a failure.

A 307 or 308 keeps the method and the body (a hook's POST stays a POST);
301, 302 and 303 become a GET without a body, as browsers do. The request's
render mode and its "source" (a sitemap that moved is still a sitemap) go
with it.
"""

from __future__ import annotations

from urllib.parse import urljoin

from pipelines.exceptions import IgnoreRequest
from pipelines.fetch.http import Request, Response
from pipelines.fetch.links import normalize
from pipelines.fetch.middleware import DownloaderMiddleware

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Credentials for one host must not follow a redirect to another.
_PRIVATE_HEADERS = ("Cookie", "Authorization")


class RedirectMiddleware(DownloaderMiddleware):
    name = "redirect"

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status not in REDIRECT_STATUSES:
            return response
        location = response.header("Location")
        target = normalize(urljoin(response.url, location.strip())) if location else None
        if target is None:
            response.failure = "bad_redirect"
            return response
        if any(p.search(target) for p in self.settings.error_redirects):
            response.failure = "error_redirect"
            return response
        chain = [*request.meta.get("redirect_urls", []), request.url]
        # A page may redirect to itself once (cookie walls set a cookie and
        # reload); any other return to a URL of the chain is a loop.
        if (chain.count(target) > 1) if target == request.url else (target in chain):
            raise IgnoreRequest("redirect_loop", "failed", response)
        if request.redirects >= self.settings.max_redirects:
            raise IgnoreRequest("max_redirects", "failed", response)
        headers = {k: v for k, v in request.headers.items() if k not in _PRIVATE_HEADERS}
        self.context.stats.inc("redirects")
        meta = {"redirect_urls": chain, "redirect_response": response}
        if "source" in request.meta:
            meta["source"] = request.meta["source"]
        same = response.status in (307, 308)
        if not same:
            headers = {k: v for k, v in headers.items() if k.lower() != "content-type"}
        return Request(target, depth=request.depth, referer=request.url, headers=headers,
                       redirects=request.redirects + 1, meta=meta,
                       method=request.method if same else "GET", body=request.body if same else None,
                       render=request.render)
