"""The crawl loop of FetchPages: frontier, worker threads, outcomes.

One coordinator (the task's own thread) owns every piece of state: the
frontier, the set of discovered URLs, the WARC writer and the outcome file.
Worker threads only download and extract links, and hand results back through
a queue, so nothing but the queue is shared and no lock is needed.

Every URL the crawl discovers ends in exactly one outcome, written as a JSON
line: fetched (a response, stored in the WARC), failed (with a reason) or
skipped (with a reason: offsite, not_followed, robots, max_depth, max_pages).
So fetched + failed + skipped = discovered, and `run` checks it.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TextIO
from urllib.parse import urljoin

from protego import Protego

from pipelines.exceptions import FetchAborted, FetchError
from pipelines.fetch.http import HttpDownloader, Request, Response
from pipelines.fetch.links import extract_links, host_of, normalize
from pipelines.spec import CrawlSpec
from pipelines.warc import PageWriter

log = logging.getLogger(__name__)

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504, 522, 524, 408})
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass
class _Result:
    request: Request
    response: Response | None = None
    error: FetchError | None = None
    links: list[str] | None = None
    retries: int = 0


class Crawler:
    """Crawls one spec into a WARC stream and an outcome stream."""

    def __init__(self, spec: CrawlSpec, pages: PageWriter, outcomes: TextIO,
                 progress: Callable[[dict], None] | None = None, progress_every: float = 2.0,
                 retry_backoff: float = 0.25) -> None:
        self.spec = spec
        self.settings = spec.fetch
        self.pages = pages
        self.outcomes = outcomes
        self.progress = progress
        self.progress_every = progress_every
        self.retry_backoff = retry_backoff
        self.downloader = HttpDownloader(
            timeout=self.settings.timeout, max_bytes=self.settings.max_bytes,
            user_agent=self.settings.user_agent, headers=self.settings.headers,
            pool_size=self.settings.concurrency,
        )
        self.frontier: deque[Request] = deque()
        self.discovered: set[str] = set()
        self.scheduled = 0
        self.counts: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = {"failed": Counter(), "skipped": Counter()}
        self.statuses: Counter[str] = Counter()
        self.bytes = 0
        self.retries = 0
        self.robots: dict[str, Protego | None] = {}
        self._results: queue.SimpleQueue[_Result] = queue.SimpleQueue()
        self._next_slot: dict[str, float] = {}
        self._slot_lock = threading.Lock()

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
        self.frontier.append(Request(url, depth=depth, referer=referer))

    def _outcome(self, url: str, status: str, reason: str | None, depth: int, referer: str | None,
                 http_status: int | None = None, size: int | None = None, attempts: int | None = None) -> None:
        self.counts[status] += 1
        if reason and status in self.reasons:
            self.reasons[status][reason] += 1
        line = {"url": url, "outcome": status, "reason": reason, "depth": depth, "referer": referer}
        if http_status is not None:
            line["status"] = http_status
        if size is not None:
            line["bytes"] = size
        if attempts is not None:
            line["attempts"] = attempts
        self.outcomes.write(json.dumps(line, ensure_ascii=False) + "\n")

    # -- robots ----------------------------------------------------------
    def _robots_allow(self, url: str) -> bool:
        if not self.settings.obey_robots:
            return True
        parts = url.split("/", 3)
        origin = "/".join(parts[:3])
        if origin not in self.robots:
            self.robots[origin] = self._fetch_robots(origin)
        rules = self.robots[origin]
        return rules is None or rules.can_fetch(url, self.settings.user_agent)

    def _fetch_robots(self, origin: str) -> Protego | None:
        try:
            response = self.downloader.fetch(Request(origin + "/robots.txt"))
        except FetchError as exc:
            log.info("robots.txt of %s unavailable (%s); crawling as allowed", origin, exc.reason)
            return None
        if response.status != 200:
            return None
        return Protego.parse(response.body.decode("utf-8", "replace"))

    # -- workers ---------------------------------------------------------
    def _wait_for_slot(self, host: str) -> None:
        delay = self.settings.delay
        if delay <= 0:
            return
        with self._slot_lock:
            now = time.monotonic()
            slot = max(now, self._next_slot.get(host, now))
            self._next_slot[host] = slot + delay
        if slot > now:
            time.sleep(slot - now)

    def _work(self, request: Request) -> None:
        result = _Result(request)
        try:
            result.response, result.retries = self._fetch_with_retries(request)
            response = result.response
            follow_links = self.spec.max_depth is None or request.depth < self.spec.max_depth
            if follow_links and 200 <= response.status < 300 and response.is_html:
                result.links = extract_links(response.body, response.url, response.charset)
        except FetchError as exc:
            result.error = exc
            result.retries = request.attempt - 1
        except Exception as exc:  # a bug must not hang the coordinator
            log.exception("unexpected error fetching %s", request.url)
            result.error = FetchError(f"{type(exc).__name__}: {exc}", "internal_error")
        self._results.put(result)

    def _fetch_with_retries(self, request: Request) -> tuple[Response, int]:
        host = host_of(request.url)
        max_attempts = self.settings.retries + 1
        while True:
            self._wait_for_slot(host)
            try:
                response = self.downloader.fetch(request)
            except FetchError as exc:
                if not exc.transient or request.attempt >= max_attempts:
                    raise
            else:
                if response.status not in RETRY_STATUSES or request.attempt >= max_attempts:
                    return response, request.attempt - 1
            time.sleep(self._backoff(request.attempt))
            request.attempt += 1

    def _backoff(self, attempt: int) -> float:
        base = self.retry_backoff * 2 ** (attempt - 1)
        return min(base, 30.0) * random.uniform(0.5, 1.5)

    # -- the loop --------------------------------------------------------
    def run(self) -> dict:
        started = time.monotonic()
        for url in self.spec.start_urls:
            normal = normalize(url)
            if normal is not None:
                self.discover(normal, 0, None, link=False)
        inflight = 0
        last_progress = started
        concurrency = self.settings.concurrency
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch") as pool:
            try:
                while self.frontier or inflight:
                    while self.frontier and inflight < concurrency:
                        request = self.frontier.popleft()
                        if not self._robots_allow(request.url):
                            self._outcome(request.url, "skipped", "robots", request.depth, request.referer)
                            continue
                        pool.submit(self._work, request)
                        inflight += 1
                    if not inflight:
                        break
                    result = self._results.get()
                    inflight -= 1
                    self._handle(result)
                    now = time.monotonic()
                    if self.progress and now - last_progress >= self.progress_every:
                        last_progress = now
                        self.progress(self.stats(now - started, inflight))
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                raise
        self.downloader.close()
        stats = self.stats(time.monotonic() - started, 0)
        total = stats["fetched"] + stats["failed"] + stats["skipped"]
        if total != stats["discovered"]:  # a bug in this module, never the site's fault
            raise AssertionError(f"outcomes do not add up: {total} != {stats['discovered']} discovered")
        if stats["fetched"] == 0:
            raise FetchAborted(
                f"no page of {self.spec.name} could be fetched; failures: {dict(self.reasons['failed'])}, "
                f"skipped: {dict(self.reasons['skipped'])}"
            )
        return stats

    def _handle(self, result: _Result) -> None:
        request = result.request
        self.retries += result.retries
        if result.error is not None:
            self._outcome(request.url, "failed", result.error.reason, request.depth, request.referer,
                          attempts=request.attempt)
            return
        response = result.response
        assert response is not None
        self.pages.write(response)
        self.bytes += len(response.body)
        status = response.status
        self.statuses[str(status)] += 1
        if status in REDIRECT_STATUSES:
            self._redirect(request, response)
        elif status >= 400:
            self._outcome(request.url, "failed", f"http_{status}", request.depth, request.referer,
                          http_status=status, size=len(response.body), attempts=request.attempt)
            return
        else:
            self._outcome(request.url, "fetched", None, request.depth, request.referer,
                          http_status=status, size=len(response.body), attempts=request.attempt)
        for link in result.links or ():
            self.discover(link, request.depth + 1, request.url)

    def _redirect(self, request: Request, response: Response) -> None:
        location = response.header("Location")
        target = normalize(urljoin(response.url, location)) if location else None
        if target is None:
            self._outcome(request.url, "failed", "bad_redirect", request.depth, request.referer,
                          http_status=response.status, attempts=request.attempt)
            return
        if request.redirects >= self.settings.max_redirects:
            self._outcome(request.url, "failed", "max_redirects", request.depth, request.referer,
                          http_status=response.status, attempts=request.attempt)
            return
        self._outcome(request.url, "fetched", "redirect", request.depth, request.referer,
                      http_status=response.status, size=len(response.body), attempts=request.attempt)
        before = len(self.frontier)
        self.discover(target, request.depth, request.url, link=False)
        if len(self.frontier) > before:
            self.frontier[-1].redirects = request.redirects + 1

    def stats(self, elapsed: float, inflight: int) -> dict:
        fetched = self.counts["fetched"]
        return {
            "discovered": len(self.discovered),
            "fetched": fetched,
            "failed": self.counts["failed"],
            "skipped": self.counts["skipped"],
            "queued": len(self.frontier) + inflight,
            "failed_by_reason": dict(self.reasons["failed"]),
            "skipped_by_reason": dict(self.reasons["skipped"]),
            "responses_by_status": dict(self.statuses),
            "bytes": self.bytes,
            "retries": self.retries,
            "elapsed_s": round(elapsed, 3),
            "pages_per_s": round(fetched / elapsed, 1) if elapsed > 0 else 0.0,
        }
