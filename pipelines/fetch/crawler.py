"""The crawl loop of FetchPages: frontier, worker threads, outcomes.

One coordinator (the task's own thread) owns every piece of crawl state: the
per-host queues, the delayed retries, the set of discovered URLs, the
politeness slots, the WARC writer and the outcome file. Worker threads run a
request through the middleware chain and the downloader, extract links, and
hand the result back through one queue; nothing else is shared, so the hot
path takes no lock.

Every URL the crawl discovers ends in exactly one outcome, written as a JSON
line: fetched (a response, stored in the WARC), failed (with a reason) or
skipped (with a reason: offsite, not_followed, robots, max_depth, max_pages).
So fetched + failed + skipped = discovered, and `run` checks it.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import queue
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TextIO

from pipelines.exceptions import FetchAborted, FetchError, IgnoreRequest, MiddlewareError
from pipelines.fetch.http import HttpDownloader, Request, Response
from pipelines.fetch.links import extract_links, host_of, normalize
from pipelines.fetch.middleware import CrawlContext, Downloader, FetchStats, MiddlewareManager
from pipelines.fetch.politeness import Politeness
from pipelines.spec import CrawlSpec
from pipelines.warc import PageWriter

log = logging.getLogger("pipelines.fetch")


@dataclass
class _Result:
    request: Request
    response: Response | None = None
    follow_up: Request | None = None  # a retry or a redirect to schedule
    ignored: IgnoreRequest | None = None
    error: FetchError | None = None
    links: list[str] | None = None
    latency: float | None = None
    fatal: Exception | None = None


def make_downloader(spec: CrawlSpec) -> Downloader:
    settings = spec.fetch
    if spec.render == "browser":
        from pathlib import Path

        from pipelines.config import crawl
        from pipelines.fetch.browser import BrowserDownloader, BrowserSettings

        return BrowserDownloader(BrowserSettings(
            pool_size=settings.browser_pool, timeout=settings.timeout, script_timeout=settings.script_timeout,
            wait_for=settings.wait_for, user_agent=settings.user_agent, run_dir=Path(crawl().browser_run_dir),
        ))
    return HttpDownloader(timeout=settings.timeout, max_bytes=settings.max_bytes,
                          user_agent=settings.user_agent, pool_size=settings.concurrency)


class Crawler:
    """Crawls one spec into a WARC stream and an outcome stream."""

    def __init__(self, spec: CrawlSpec, pages: PageWriter, outcomes: TextIO,
                 progress: Callable[[dict], None] | None = None, progress_every: float = 2.0,
                 downloader: Downloader | None = None) -> None:
        self.spec = spec
        self.settings = spec.fetch
        self.pages = pages
        self.outcomes = outcomes
        self.progress = progress
        self.progress_every = progress_every
        self.fetch_stats = FetchStats()
        downloader = downloader or make_downloader(spec)
        self.middlewares = MiddlewareManager(CrawlContext(spec, self.fetch_stats, downloader), downloader)
        self.politeness = Politeness(self.settings)
        self.pending: dict[str, deque[Request]] = {}
        self.delayed: list[tuple[float, int, Request]] = []
        self._seq = itertools.count()
        self.inflight = 0
        self.discovered: set[str] = set()
        self.scheduled = 0
        self.counts: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = {"failed": Counter(), "skipped": Counter()}
        self.statuses: Counter[str] = Counter()
        self.bytes = 0
        self._results: queue.SimpleQueue[_Result] = queue.SimpleQueue()

    # -- discovery -------------------------------------------------------
    def discover(self, url: str, depth: int, referer: str | None, link: bool = True) -> None:
        if url in self.discovered:
            return
        self.discovered.add(url)
        spec = self.spec
        if not spec.allows_domain(host_of(url)):
            return self._outcome(url, "skipped", "offsite", depth, referer)
        if link and spec.follow and not any(p.search(url) for p in spec.follow) and not (
            spec.item_pages is not None and spec.item_pages.search(url)
        ):
            return self._outcome(url, "skipped", "not_followed", depth, referer)
        if spec.max_depth is not None and depth > spec.max_depth:
            return self._outcome(url, "skipped", "max_depth", depth, referer)
        if self.scheduled >= spec.max_pages:
            return self._outcome(url, "skipped", "max_pages", depth, referer)
        self.scheduled += 1
        self._enqueue(Request(url, depth=depth, referer=referer))

    def _enqueue(self, request: Request, front: bool = False) -> None:
        host = host_of(request.url)
        waiting = self.pending.get(host)
        if waiting is None:
            waiting = self.pending[host] = deque()
        waiting.appendleft(request) if front else waiting.append(request)

    def _outcome(self, url: str, status: str, reason: str | None, depth: int, referer: str | None,
                 response: Response | None = None, attempts: int | None = None) -> None:
        self.counts[status] += 1
        if reason and status in self.reasons:
            self.reasons[status][reason] += 1
        line: dict = {"url": url, "outcome": status, "reason": reason, "depth": depth, "referer": referer}
        if response is not None:
            line["status"] = response.status
            line["bytes"] = len(response.body)
        if attempts is not None:
            line["attempts"] = attempts
        self.outcomes.write(json.dumps(line, ensure_ascii=False) + "\n")

    # -- workers ---------------------------------------------------------
    def _work(self, request: Request) -> None:
        result = _Result(request)
        started = time.monotonic()
        try:
            outcome = self.middlewares.download(request)
            if isinstance(outcome, Request):
                result.follow_up = outcome
            else:
                result.response = outcome
                follow = self.spec.max_depth is None or request.depth < self.spec.max_depth
                if follow and 200 <= outcome.status < 300 and not outcome.failure and outcome.is_html:
                    result.links = extract_links(outcome.body, outcome.url, outcome.encoding or outcome.charset)
        except IgnoreRequest as exc:
            result.ignored = exc
        except FetchError as exc:
            result.error = exc
        except MiddlewareError as exc:  # a broken middleware: stop the crawl, say which
            result.fatal = exc
        except Exception as exc:  # a bug on one page must neither hang nor end the crawl
            log.exception("unexpected error fetching %s", request.url)
            result.error = FetchError(f"{type(exc).__name__}: {exc}", "internal_error")
        result.latency = time.monotonic() - started
        self.fetch_stats.inc("requests")
        self._results.put(result)

    # -- the loop --------------------------------------------------------
    def run(self) -> dict:
        started = time.monotonic()
        log.info("enabled middlewares: %s", ", ".join(self.middlewares.enabled) or "none")
        for url in self.spec.start_urls:
            normal = normalize(url)
            if normal is not None:
                self.discover(normal, 0, None, link=False)
        last_progress = started
        concurrency = self.settings.concurrency
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch") as pool:
            try:
                while self.pending or self.delayed or self.inflight:
                    now = time.monotonic()
                    self._release_due(now)
                    self._submit_ready(pool, now, concurrency)
                    wake = self._next_wake(now)
                    if not self.inflight:
                        if wake is None:
                            break
                        time.sleep(max(0.0, wake - now))
                        continue
                    try:
                        result = self._results.get(timeout=None if wake is None else max(0.0, wake - now))
                    except queue.Empty:
                        continue
                    self.inflight -= 1
                    self._handle(result)
                    now = time.monotonic()
                    if self.progress and now - last_progress >= self.progress_every:
                        last_progress = now
                        self.progress(self.stats(now - started))
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            finally:
                self.middlewares.close()
        stats = self.stats(time.monotonic() - started)
        total = stats["fetched"] + stats["failed"] + stats["skipped"]
        if total != stats["discovered"]:  # a bug in this module, never the site's fault
            raise AssertionError(f"outcomes do not add up: {total} != {stats['discovered']} discovered")
        if stats["fetched"] == 0:
            raise FetchAborted(
                f"no page of {self.spec.name} could be fetched; failures: {stats['failed_by_reason']}, "
                f"skipped: {stats['skipped_by_reason']}"
            )
        return stats

    def _release_due(self, now: float) -> None:
        while self.delayed and self.delayed[0][0] <= now:
            _, _, request = heapq.heappop(self.delayed)
            self._enqueue(request, front=True)

    def _submit_ready(self, pool: ThreadPoolExecutor, now: float, concurrency: int) -> None:
        for host in list(self.pending):
            if self.inflight >= concurrency:
                return
            waiting = self.pending[host]
            while waiting and self.inflight < concurrency and self.politeness.can_start(host, now):
                request = waiting.popleft()
                self.politeness.start(host, now)
                pool.submit(self._work, request)
                self.inflight += 1
            if not waiting:
                del self.pending[host]
            else:  # round robin: a host that was served goes to the back
                self.pending[host] = self.pending.pop(host)

    def _next_wake(self, now: float) -> float | None:
        times = [self.delayed[0][0]] if self.delayed else []
        for host in self.pending:
            wake = self.politeness.wake_time(host)
            if wake is not None:
                times.append(wake)
        return min(times) if times else None

    def _handle(self, result: _Result) -> None:
        request = result.request
        response = result.response
        self.politeness.finish(host_of(request.url), result.latency,
                               ok=response is not None and response.status < 400)
        if result.fatal is not None:
            raise result.fatal
        if result.follow_up is not None:
            return self._follow_up(request, result.follow_up)
        if result.ignored is not None:
            ignored = result.ignored
            if isinstance(ignored.response, Response):
                self._store(ignored.response)
            return self._outcome(request.url, ignored.outcome, ignored.reason, request.depth, request.referer,
                                 ignored.response if isinstance(ignored.response, Response) else None,
                                 request.attempt)
        if result.error is not None:
            return self._outcome(request.url, "failed", result.error.reason, request.depth, request.referer,
                                 attempts=request.attempt)
        assert response is not None
        self._store(response)
        if response.failure:
            self._outcome(request.url, "failed", response.failure, request.depth, request.referer, response,
                          request.attempt)
        elif response.status >= 300:
            reason = f"http_{response.status}" if response.status >= 400 else "unfollowed_redirect"
            self._outcome(request.url, "failed", reason, request.depth, request.referer, response, request.attempt)
        else:
            self._outcome(request.url, "fetched", None, request.depth, request.referer, response, request.attempt)
            for link in result.links or ():
                self.discover(link, request.depth + 1, request.url)

    def _follow_up(self, request: Request, follow_up: Request) -> None:
        redirected = follow_up.meta.pop("redirect_response", None)
        if redirected is None:  # a retry, or a switch of proxy: same URL, later
            not_before = follow_up.meta.get("not_before", 0.0)
            heapq.heappush(self.delayed, (not_before, next(self._seq), follow_up))
            return
        self._store(redirected)
        target = follow_up.url
        if target == request.url:  # a page reloading itself (a cookie wall): its outcome comes later
            self._enqueue(follow_up)
            return
        self._outcome(request.url, "fetched", "redirect", request.depth, request.referer, redirected,
                      request.attempt)
        if target not in self.discovered:
            self.discovered.add(target)
            if not self.spec.allows_domain(host_of(target)):
                self._outcome(target, "skipped", "offsite", follow_up.depth, request.url)
            else:
                self.scheduled += 1
                self._enqueue(follow_up)

    def _store(self, response: Response) -> None:
        self.pages.write(response)
        self.bytes += len(response.body)
        self.statuses[str(response.status)] += 1

    def stats(self, elapsed: float) -> dict:
        fetched = self.counts["fetched"]
        queued = sum(len(q) for q in self.pending.values()) + len(self.delayed) + self.inflight
        return {
            "discovered": len(self.discovered),
            "fetched": fetched,
            "failed": self.counts["failed"],
            "skipped": self.counts["skipped"],
            "queued": queued,
            "requests": self.fetch_stats.counters["requests"],
            "failed_by_reason": dict(self.reasons["failed"]),
            "skipped_by_reason": dict(self.reasons["skipped"]),
            "responses_by_status": dict(self.statuses),
            "bytes": self.bytes,
            "retries": sum(self.fetch_stats.prefixed("retries/").values()),
            "retries_by_reason": self.fetch_stats.prefixed("retries/"),
            "middleware": {k: v for k, v in self.fetch_stats.counters.items()
                           if not k.startswith(("retries/", "requests"))},
            "elapsed_s": round(elapsed, 3),
            "pages_per_s": round(fetched / elapsed, 1) if elapsed > 0 else 0.0,
        }
