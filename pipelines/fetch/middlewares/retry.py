"""Retries: transient errors, retryable statuses, error pages in disguise.

Reads [fetch] retries, retry_http_codes, retry_backoff, retry_max_delay,
retry_on_body. A retry is a copy of the request with `meta["not_before"]`:
the crawler holds it back until then without blocking a worker thread. The
delay is exponential (retry_backoff * 2^(attempt-1)) with +-50% jitter,
capped at retry_max_delay, and never shorter than the server's Retry-After
(also capped). When the retries run out, a response stands as it is (so the
URL fails as http_503, content_check, error_redirect ...) and an error
propagates (timeout, connection_error ...).
"""

from __future__ import annotations

import random
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from pipelines.exceptions import FetchError
from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import CrawlContext, DownloaderMiddleware

# Failures other middlewares flag on a response that a retry may cure.
RETRYABLE_FAILURES = frozenset({"error_redirect", "content_check"})


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds from a Retry-After header (a number or an HTTP date); None if absent or invalid."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class RetryMiddleware(DownloaderMiddleware):
    name = "retry"

    def __init__(self, context: CrawlContext) -> None:
        super().__init__(context)
        self.codes = frozenset(self.settings.retry_http_codes)
        self.markers = tuple(m.encode("utf-8") for m in self.settings.retry_on_body)

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status in self.codes:
            reason = f"http_{response.status}"
        elif response.failure in RETRYABLE_FAILURES:
            reason = response.failure
        elif self.markers and 200 <= response.status < 300 and any(m in response.body for m in self.markers):
            reason = response.failure = "content_check"
        else:
            return response
        retry = self._retry(request, reason, retry_after_seconds(response.header("Retry-After")))
        return retry if retry is not None else response

    def process_exception(self, request: Request, error: FetchError) -> Request | Response | None:
        if not error.transient:
            return None
        return self._retry(request, error.reason, None)

    def _retry(self, request: Request, reason: str, retry_after: float | None) -> Request | None:
        settings = self.settings
        if request.attempt > settings.retries:
            self.context.stats.inc(f"retries_exhausted/{reason}")
            return None
        delay = settings.retry_backoff * 2 ** (request.attempt - 1) * random.uniform(0.5, 1.5)
        if retry_after is not None:
            delay = max(delay, retry_after)
        delay = min(delay, settings.retry_max_delay)
        self.context.stats.inc(f"retries/{reason}")
        retry = request.replace(attempt=request.attempt + 1)
        retry.meta["not_before"] = time.monotonic() + delay
        retry.meta["retry_reasons"] = [*request.meta.get("retry_reasons", []), reason]
        return retry
