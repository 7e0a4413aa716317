"""The downloader-middleware chain, Scrapy style.

Middlewares are ordered by number. `process_request` runs in increasing
order before the download; `process_response` and `process_exception` run in
decreasing order after it. Return values mean what they mean in Scrapy:

- process_request(request): None = continue; a Response = skip the download
  (the response chain still runs); a Request = schedule that request instead.
- process_response(request, response): a Response = continue with it; a
  Request = schedule that request instead (a retry or a redirect).
- process_exception(request, error): None = let the next one look at it; a
  Response = recovered, the response chain runs; a Request = schedule it.
- Any of them may raise IgnoreRequest to end the URL as skipped or failed.

Anything else raises MiddlewareError naming the middleware and the method.

The defaults are in DEFAULT_MIDDLEWARES. A spec's [middlewares] table adds one
(by import path), moves one (a new number) or disables one ("none"); built-ins
can be named by their short name (`retry`) or their import path.
"""

from __future__ import annotations

import importlib
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from pipelines.exceptions import FetchError, MiddlewareError, NotConfigured
from pipelines.fetch.http import Request, Response

if TYPE_CHECKING:
    from pipelines.spec import CrawlSpec

log = logging.getLogger("pipelines.fetch")

_BUILTIN = "pipelines.fetch.middlewares"
DEFAULT_MIDDLEWARES: dict[str, int] = {
    f"{_BUILTIN}.robots.RobotsTxtMiddleware": 100,
    f"{_BUILTIN}.sizelimit.SizeLimitMiddleware": 200,
    f"{_BUILTIN}.headers.DefaultHeadersMiddleware": 400,
    f"{_BUILTIN}.useragent.UserAgentMiddleware": 500,
    f"{_BUILTIN}.retry.RetryMiddleware": 550,
    f"{_BUILTIN}.redirect.RedirectMiddleware": 600,
    f"{_BUILTIN}.cookies.CookiesMiddleware": 700,
    f"{_BUILTIN}.proxy.ProxyPoolMiddleware": 750,
    f"{_BUILTIN}.charset.CharsetMiddleware": 800,
    f"{_BUILTIN}.httpcache.HttpCacheMiddleware": 900,
}
SHORT_NAMES = {path.rsplit(".", 2)[1]: path for path in DEFAULT_MIDDLEWARES}


class Downloader(Protocol):
    def fetch(self, request: Request) -> Response: ...

    def close(self) -> None: ...


@dataclass
class FetchStats:
    """Counters shared by the worker threads; every update takes the lock."""

    counters: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def inc(self, key: str, n: int = 1) -> None:
        with self._lock:
            self.counters[key] += n

    def prefixed(self, prefix: str) -> dict[str, int]:
        with self._lock:
            return {k[len(prefix):]: v for k, v in self.counters.items() if k.startswith(prefix)}


@dataclass
class CrawlContext:
    """What a middleware gets: the spec, the shared stats and the downloader.

    `manager` is set once the chain is built, so a middleware can send a
    request of its own through the whole chain (robots.txt goes through the
    same proxies, user agents and cookies as the pages).
    """

    spec: CrawlSpec
    stats: FetchStats
    downloader: Downloader
    manager: MiddlewareManager | None = None


class DownloaderMiddleware:
    """Base class: override any of the hooks. `name` is the short name in logs."""

    name = "middleware"

    def __init__(self, context: CrawlContext) -> None:
        self.context = context
        self.settings = context.spec.fetch

    def process_request(self, request: Request) -> Request | Response | None:
        return None

    def process_response(self, request: Request, response: Response) -> Request | Response:
        return response

    def process_exception(self, request: Request, error: FetchError) -> Request | Response | None:
        return None

    def close(self) -> None:
        pass


def resolve_order(overrides: dict[str, Any]) -> list[tuple[str, int]]:
    """DEFAULT_MIDDLEWARES with a spec's [middlewares] applied, sorted by number."""
    order = dict(DEFAULT_MIDDLEWARES)
    for name, value in overrides.items():
        path = SHORT_NAMES.get(name, name)
        if value is None or (isinstance(value, str) and value.lower() == "none"):
            order.pop(path, None)
        else:
            order[path] = value
    return sorted(order.items(), key=lambda item: (item[1], item[0]))


def load_class(path: str) -> type[DownloaderMiddleware]:
    module_name, _, class_name = path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise MiddlewareError(f"middleware {path!r}: module {module_name!r} cannot be imported ({exc})") from None
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        raise MiddlewareError(f"middleware {path!r}: module {module_name!r} has no class {class_name!r}")
    return cls


def _overrides(cls: type, method: str) -> bool:
    return getattr(cls, method, None) is not getattr(DownloaderMiddleware, method)


class MiddlewareManager:
    """Runs requests through the chain and the downloader; thread-safe if the middlewares are."""

    def __init__(self, context: CrawlContext, downloader: Downloader) -> None:
        self.context = context
        context.manager = self
        self.downloader = downloader
        self.middlewares: list[DownloaderMiddleware] = []
        enabled = []
        for path, number in resolve_order(context.spec.middlewares):
            cls = load_class(path)
            try:
                middleware = cls(context)
            except NotConfigured as exc:
                log.debug("middleware %s not configured: %s", path, exc)
                continue
            self.middlewares.append(middleware)
            enabled.append(f"{number} {path.rsplit('.', 1)[-1]}")
        self.enabled = enabled
        self._requests = [m for m in self.middlewares if _overrides(type(m), "process_request")]
        self._responses = [m for m in reversed(self.middlewares) if _overrides(type(m), "process_response")]
        self._exceptions = [m for m in reversed(self.middlewares) if _overrides(type(m), "process_exception")]

    def download(self, request: Request) -> Request | Response:
        """The response for `request`, or a Request to schedule instead.

        Raises IgnoreRequest, or the FetchError no middleware handled.
        """
        response: Response | None = None
        for middleware in self._requests:
            result = middleware.process_request(request)
            if result is None:
                continue
            if isinstance(result, Response):
                response = result
                break
            if isinstance(result, Request):
                return result
            raise self._wrong(middleware, "process_request", result, "None, a Response or a Request")
        if response is None:
            try:
                response = self.downloader.fetch(request)
            except FetchError as error:
                for middleware in self._exceptions:
                    result = middleware.process_exception(request, error)
                    if result is None:
                        continue
                    if isinstance(result, Response):
                        response = result
                        break
                    if isinstance(result, Request):
                        return result
                    raise self._wrong(middleware, "process_exception", result,
                                      "None, a Response or a Request") from None
                else:
                    raise
        for middleware in self._responses:
            result = middleware.process_response(request, response)
            if isinstance(result, Response):
                response = result
            elif isinstance(result, Request):
                return result
            else:
                raise self._wrong(middleware, "process_response", result, "a Response or a Request")
        return response

    @staticmethod
    def _wrong(middleware: DownloaderMiddleware, method: str, result: object, expected: str) -> MiddlewareError:
        name = f"{type(middleware).__module__}.{type(middleware).__qualname__}"
        return MiddlewareError(f"{name}.{method} returned {type(result).__name__}; expected {expected}")

    def close(self) -> None:
        for middleware in self.middlewares:
            middleware.close()
        self.downloader.close()
