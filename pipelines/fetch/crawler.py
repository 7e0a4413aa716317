"""The crawl loop of FetchPages: frontier, worker threads, outcomes.

One coordinator (the task's own thread) owns every piece of crawl state: the
per-host queues, the delayed retries, the set of discovered URLs, the
politeness slots, the WARC writer and the outcome file. Worker threads run a
request through the middleware chain and the downloader, extract links, and
hand the result back through one queue; nothing else is shared, so the hot
path takes no lock.

Every URL the crawl discovers ends in exactly one outcome, written as a JSON
line: fetched (a response, stored in the WARC), failed (with a reason) or
skipped (with a reason: offsite, not_followed, robots, max_depth, max_pages,
budget). So fetched + failed + skipped = discovered, and `run` checks it.
Discovered counts distinct dedupe keys (`UrlRules.key`, by default the
canonical form), so `?b=2&a=1` and `?a=1&b=2` are one URL, fetched once.

Links come from the spec's [links] sources (pipelines/fetch/sources.py):
hrefs, sitemaps, robots.txt's Sitemap: lines, and the Requests of a link
hook. A hook's POST (or any request with a body) is deduped by method, URL
and a digest of the body (`request_key`), and goes through the same rules.
"""

from __future__ import annotations

import ctypes
import hashlib
import heapq
import itertools
import json
import logging
import pickle
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TextIO

from pipelines.exceptions import FetchAborted, FetchError, IgnoreRequest, MiddlewareError
from pipelines.fetch.frontier import HostQueue
from pipelines.fetch.http import HttpDownloader, Request, Response
from pipelines.fetch.keyset import KeySet, Recent
from pipelines.fetch.links import UrlRules, extract_links, host_of, normalize
from pipelines.fetch.middleware import CrawlContext, Downloader, FetchStats, MiddlewareManager
from pipelines.fetch.pagework import FetchSideLines, PageReply, PageWork, PageWorkGone
from pipelines.fetch.politeness import Politeness
from pipelines.fetch.sources import Link, LinkFinder, sitemap_links
from pipelines.spec import CrawlSpec
from pipelines.warc import PageWriter, encode_response

log = logging.getLogger("pipelines.fetch")


@dataclass
class _Result:
    request: Request
    response: Response | None = None
    follow_up: Request | None = None  # a retry or a redirect to schedule
    ignored: IgnoreRequest | None = None
    error: FetchError | None = None
    links: list[Link] | None = None
    link_error: str | None = None  # a link hook that failed on the page, or a sitemap that cannot be read
    encoded: bytes | None = None  # the response's WARC record, built in the worker thread
    latency: float | None = None
    fatal: Exception | None = None


def make_downloader(spec: CrawlSpec) -> Downloader:
    """The spec's downloader; with a link hook, one that also renders its other mode on request."""
    makers = {"browser": _browser_downloader, "http": _http_downloader}
    default = makers[spec.render](spec)
    if spec.links.hook is None:
        return default
    other = "http" if spec.render == "browser" else "browser"
    return RenderRouter(default, spec.render, lambda: makers[other](spec))


def may_start_browsers(spec: CrawlSpec) -> bool:
    """Whether a fetch of `spec` may start Chromium: a browser crawl, or a crawl whose link hook may ask for it."""
    return spec.render == "browser" or spec.links.hook is not None


def _browser_downloader(spec: CrawlSpec) -> Downloader:
    from pathlib import Path

    from pipelines.config import crawl
    from pipelines.fetch.browser import BrowserDownloader, BrowserSettings

    settings = spec.fetch
    return BrowserDownloader(BrowserSettings(
        pool_size=settings.browser_pool, timeout=settings.timeout, script_timeout=settings.script_timeout,
        wait_for=settings.wait_for, user_agent=settings.user_agent, run_dir=Path(crawl().browser_run_dir),
    ))


def _http_downloader(spec: CrawlSpec) -> Downloader:
    settings = spec.fetch
    return HttpDownloader(timeout=settings.timeout, max_bytes=settings.max_bytes,
                          user_agent=settings.user_agent, pool_size=settings.concurrency)


class RenderRouter:
    """The spec's downloader, and for a hook's Request(render=...) of the other mode a second one, made on first use.

    So an HTTP crawl starts no browser until a hook asks for a rendered page,
    and none once closed (a fetch thread still running when an aborted crawl
    closed its downloaders gets FetchError "closed").
    """

    def __init__(self, default: Downloader, mode: str, make_other: Callable[[], Downloader]) -> None:
        self.default = default
        self.mode = mode
        self._make_other = make_other
        self._other: Downloader | None = None
        self._closed = False
        self._lock = threading.Lock()

    def fetch(self, request: Request) -> Response:
        if request.render is None or request.render == self.mode:
            return self.default.fetch(request)
        with self._lock:
            if self._other is None:
                if self._closed:
                    raise FetchError(f"the downloader for render={request.render!r} is closed", "closed")
                self._other = self._make_other()
        return self._other.fetch(request)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            other = self._other
        self.default.close()
        if other is not None:
            other.close()


def request_key(key: str, request: Request) -> str:
    """The dedupe key of a request whose URL's key is `key`: the URL's alone for a plain GET,
    else with the method and a digest of the body (two POSTs to one URL are two requests)."""
    if request.plain:
        return key
    return f"{request.method} {key} {hashlib.sha1(request.body or b'').hexdigest()}"


_M_ARENA_MAX = -8  # glibc's mallopt parameter


def limit_malloc_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for the threads started from now on; False where that is not glibc.

    glibc gives threads that allocate at once arenas of their own, up to 8 per
    core, and a freed response body stays in its arena: with 32 fetch threads
    that cost the worker 6-9 MB of RSS over a 10,000-page crawl
    (docs/architecture.md). Two arenas keep the threads' contention low.
    """
    try:
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(_M_ARENA_MAX, arenas))
    except (OSError, AttributeError):
        return False


def trim_malloc() -> None:
    """Hand the freed pages inside glibc's heaps back to the kernel (malloc_trim); nothing elsewhere."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        pass


# The coordinator trims the heaps this often (seconds): response bodies freed
# between long-lived objects otherwise stay in the worker's RSS.
TRIM_EVERY = 5.0


class Crawler:
    """Crawls one spec into a WARC stream and an outcome stream."""

    def __init__(self, spec: CrawlSpec, pages: PageWriter, outcomes: TextIO,
                 progress: Callable[[dict], None] | None = None, progress_every: float = 2.0,
                 downloader: Downloader | None = None, lines: FetchSideLines | None = None) -> None:
        self.spec = spec
        self.settings = spec.fetch
        self.pages = pages
        self.outcomes = outcomes
        self.progress = progress
        self.progress_every = progress_every
        self.last_stats: dict | None = None  # the counters at the end, also when run() raised
        self.fetch_stats = FetchStats()
        downloader = downloader or make_downloader(spec)
        self.middlewares = MiddlewareManager(CrawlContext(spec, self.fetch_stats, downloader), downloader)
        self.politeness = Politeness(self.settings)
        self.pending: dict[str, HostQueue] = {}  # per host; past a bound, in a temp file (frontier.py)
        self.delayed: list[tuple[float, int, Request]] = []
        self._seq = itertools.count()
        self.inflight = 0
        self.urls = UrlRules(spec.strip_query_params, spec.canonical_dedupe)
        self.discovered = KeySet()  # dedupe keys, as 96-bit digests (pipelines/fetch/keyset.py)
        # URLs seen lately -> their keys: a repeated link is settled by one lookup, not its clean-up and digest.
        self.recent: Recent[str, str] = Recent(8192)
        # Too deep when first seen: the outcome is written at the end, since a
        # page fetched later (a retry, a slow host) may link to it from closer.
        self.too_deep: dict[str, tuple[str, int, str | None, Request | None]] = {}
        self.budget_used = [0] * len(spec.budgets)
        self.budget_skipped: Counter[str] = Counter()
        self.scheduled = 0
        self.counts: Counter[str] = Counter()
        self.reasons: dict[str, Counter[str]] = {"failed": Counter(), "skipped": Counter()}
        self.statuses: Counter[str] = Counter()
        self.bytes = 0
        self._results: queue.SimpleQueue[_Result | PageReply | PageWorkGone] = queue.SimpleQueue()
        # Page-work processes parse fetched pages beside the fetch (pipelines/fetch/pagework.py):
        # a page's links come back from them, its item or error line goes to `lines`.
        self.lines = lines
        self.page_work: list[PageWork] = []
        self.awaiting: dict[int, tuple[Request | None, Response, int | None]] = {}
        self._jobs = itertools.count()
        # Pages waiting for a page process, at most: past it no fetch starts, so memory stays flat.
        self.backlog = max(16, 2 * self.settings.concurrency)
        self.finder = LinkFinder(spec)
        self.link_errors = 0

    # -- discovery -------------------------------------------------------
    def discover(self, url: Link, depth: int, referer: str | None, link: bool = True) -> None:
        """Take in a normalised URL found `depth` hops from a start URL: queue it or give it its outcome.

        `link=False` (start URLs) skips the follow patterns. A URL already
        discovered under any spelling of its key is dropped. A Request (a
        hook's, a sitemap) is taken in the same way, keyed by `request_key`;
        a sitemap is not held to the follow patterns either.
        """
        if isinstance(url, Request):
            template = url
            url, key = self.urls.resolve(template.url)
            key = request_key(key, template)
            return self._take(url, key, self.discovered.add(key), depth, referer,
                              link and "source" not in template.meta, template)
        key = self.recent.get(url)
        if key is None:
            found = url
            url, key = self.urls.resolve(found)
            new = self.discovered.add(key)
            self.recent.put(found, key)
        else:
            new = False
        return self._take(url, key, new, depth, referer, link)

    def _take(self, url: str, key: str, new: bool, depth: int, referer: str | None, link: bool,
              template: Request | None = None) -> None:
        spec = self.spec
        if not new:
            # First seen too deep, now found closer: it passed the other checks then.
            if self.too_deep and spec.max_depth is not None and depth <= spec.max_depth:
                first = self.too_deep.pop(key, None)
                if first is not None:
                    self._admit(first[0], depth, referer, template=first[3])
            return
        if not spec.allows_url(url):
            return self._outcome(url, "skipped", "offsite", depth, referer, request=template)
        if link and spec.follow and not any(p.search(url) for p in spec.follow) and not (
            spec.item_pages is not None and spec.item_pages.search(url)
        ):
            return self._outcome(url, "skipped", "not_followed", depth, referer, request=template)
        if spec.max_depth is not None and depth > spec.max_depth:
            self.too_deep[key] = (url, depth, referer, template)
            return None
        return self._admit(url, depth, referer, template=template)

    def _admit(self, url: str, depth: int, referer: str | None, redirect: Request | None = None,
               template: Request | None = None) -> None:
        """Queue a URL that passed the URL checks, unless max_pages (links only) or a budget is spent.

        template: the Request a hook or a sitemap made (method, body, headers, render), else a plain GET.
        """
        if redirect is None and self.scheduled >= self.spec.max_pages:
            return self._outcome(url, "skipped", "max_pages", depth, referer, request=template)
        if self.spec.budgets and not self._spend_budgets(url):
            return self._outcome(url, "skipped", "budget", depth, referer, request=redirect or template)
        self.scheduled += 1
        if redirect is not None:
            self._enqueue(redirect)
        elif template is not None:
            self._enqueue(template.replace(url=url, depth=depth, referer=referer))
        else:
            self._enqueue(Request(url, depth=depth, referer=referer))

    def _spend_budgets(self, url: str) -> bool:
        """Count `url` against every budget whose pattern it matches; False when one is spent."""
        budgets = self.spec.budgets
        matched = [i for i, (pattern, _) in enumerate(budgets) if pattern.search(url)]
        for i in matched:
            if self.budget_used[i] >= budgets[i][1]:
                self.budget_skipped[budgets[i][0].pattern] += 1
                return False
        for i in matched:
            self.budget_used[i] += 1
        return True

    def _flush_too_deep(self) -> None:
        for url, depth, referer, template in self.too_deep.values():
            self._outcome(url, "skipped", "max_depth", depth, referer, request=template)
        self.too_deep.clear()

    def _enqueue(self, request: Request, front: bool = False) -> None:
        host = host_of(request.url)
        waiting = self.pending.get(host)
        if waiting is None:
            waiting = self.pending[host] = HostQueue()
        waiting.appendleft(request) if front else waiting.append(request)

    def _outcome(self, url: str, status: str, reason: str | None, depth: int, referer: str | None,
                 response: Response | None = None, attempts: int | None = None,
                 request: Request | None = None) -> None:
        self.counts[status] += 1
        if reason and status in self.reasons:
            self.reasons[status][reason] += 1
        line: dict = {"url": url, "outcome": status, "reason": reason, "depth": depth, "referer": referer}
        if request is not None and not request.plain:  # what tells two POSTs to one URL apart
            line["method"] = request.method
            line["body_sha1"] = hashlib.sha1(request.body or b"").hexdigest()
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
                result.encoded = encode_response(outcome)  # SHA-1 and gzip release the GIL
                # Links of pages at max_depth are extracted too, to be recorded as skipped (max_depth).
                ok = 200 <= outcome.status < 300 and not outcome.failure
                source = request.meta.get("source")
                if ok and source is not None:  # a sitemap, or robots.txt for its Sitemap: lines
                    result.links, result.link_error = sitemap_links(
                        source, outcome.body, outcome.encoding or outcome.charset, self.settings.max_bytes)
                elif ok and not self.page_work and self.finder.wants(outcome.content_type, outcome.body):
                    result.links, result.link_error = self._links_here(outcome)
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
        self._discover_sitemaps()
        last_progress = last_trim = started
        concurrency = self.settings.concurrency
        self._start_page_work()
        limit_malloc_arenas()
        with ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="fetch") as pool:
            try:
                while self.pending or self.delayed or self.inflight or self.awaiting:
                    now = time.monotonic()
                    self._release_due(now)
                    self._submit_ready(pool, now, concurrency)
                    wake = self._next_wake(now)
                    if not self.inflight and not self.awaiting:
                        if wake is None:
                            break
                        time.sleep(max(0.0, wake - now))
                        continue
                    try:
                        result = self._results.get(timeout=None if wake is None else max(0.0, wake - now))
                    except queue.Empty:
                        continue
                    if isinstance(result, _Result):
                        self.inflight -= 1
                        self._handle(result)
                    else:
                        self._page_done(result)
                    now = time.monotonic()
                    if now - last_trim >= TRIM_EVERY:
                        last_trim = now
                        trim_malloc()
                    if self.progress and now - last_progress >= self.progress_every:
                        last_progress = now
                        self.progress(self.stats(now - started))
            except BaseException:
                pool.shutdown(wait=False, cancel_futures=True)
                self.last_stats = self.stats(time.monotonic() - started)  # before the queues are closed
                raise
            finally:
                self.middlewares.close()
                self._stop_page_work()
                for waiting in self.pending.values():  # what an aborted crawl left queued
                    waiting.close()
        self._flush_too_deep()
        stats = self.last_stats = self.stats(time.monotonic() - started)
        total = stats["fetched"] + stats["failed"] + stats["skipped"]
        if total != stats["discovered"]:  # a bug in this module, never the site's fault
            raise AssertionError(f"outcomes do not add up: {total} != {stats['discovered']} discovered")
        if stats["fetched"] == 0:
            raise FetchAborted(
                f"no page of {self.spec.name} could be fetched; failures: {stats['failed_by_reason']}, "
                f"skipped: {stats['skipped_by_reason']}"
            )
        return stats

    def _discover_sitemaps(self) -> None:
        """[links] sitemaps and, with robots_sitemaps, the robots.txt of each start URL's origin, as start points."""
        links = self.spec.links
        for url in links.sitemaps:
            normal = normalize(url)
            if normal is not None:
                self.discover(Request(normal, meta={"source": "sitemap"}), 0, None, link=False)
        if links.robots_sitemaps:
            origins = dict.fromkeys("/".join(u.split("/", 3)[:3]) for u in map(normalize, self.spec.start_urls) if u)
            for origin in origins:
                self.discover(Request(origin + "/robots.txt", meta={"source": "robots"}), 0, None, link=False)

    def _found(self, links: list[Link] | None, error: str | None, page: Request) -> None:
        """Discover the links of a fetched page: one hop further, except a sitemap's sitemaps (no hop)."""
        if error is not None:
            self.link_errors += 1
            if self.link_errors <= 5:
                log.warning("links of %s: %s", page.url, error)
        for link in links or ():
            hop = 0 if isinstance(link, Request) and "source" in link.meta else 1
            self.discover(link, page.depth + hop, page.url)

    def _release_due(self, now: float) -> None:
        while self.delayed and self.delayed[0][0] <= now:
            _, _, request = heapq.heappop(self.delayed)
            self._enqueue(request, front=True)

    def _submit_ready(self, pool: ThreadPoolExecutor, now: float, concurrency: int) -> None:
        if len(self.awaiting) >= self.backlog:
            return
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
                waiting.close()
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
                                 request.attempt, request)
        if result.error is not None:
            return self._outcome(request.url, "failed", result.error.reason, request.depth, request.referer,
                                 attempts=request.attempt, request=request)
        assert response is not None
        ok = not response.failure and response.status < 300
        # A sitemap's links came with the result (worker thread); a page's may come from a page process.
        page = ok and "source" not in request.meta
        links_later = self._store(response, result.encoded, request if page else None)
        if response.failure:
            self._outcome(request.url, "failed", response.failure, request.depth, request.referer, response,
                          request.attempt, request)
        elif response.status >= 300:
            reason = f"http_{response.status}" if response.status >= 400 else "unfollowed_redirect"
            self._outcome(request.url, "failed", reason, request.depth, request.referer, response, request.attempt,
                          request)
        else:
            self._outcome(request.url, "fetched", None, request.depth, request.referer, response, request.attempt,
                          request)
            if not links_later:
                self._found(result.links, result.link_error, request)

    def _follow_up(self, request: Request, follow_up: Request) -> None:
        redirected = follow_up.meta.pop("redirect_response", None)
        if redirected is None:  # a retry, or a switch of proxy: same URL, later
            not_before = follow_up.meta.get("not_before", 0.0)
            heapq.heappush(self.delayed, (not_before, next(self._seq), follow_up))
            return
        self._store(redirected)
        # The target is fetched as the server gave it (stripping its parameters
        # could send the server's redirect round again), deduped by its key.
        target = follow_up.url
        key = request_key(self.urls.key(target), follow_up)
        if target == request.url or key == request_key(self.urls.key(request.url), request):
            # A page reloading itself (a cookie wall), or the server's spelling
            # of the same URL: one URL, whose outcome comes later.
            self._enqueue(follow_up)
            return
        self._outcome(request.url, "fetched", "redirect", request.depth, request.referer, redirected,
                      request.attempt, request)
        if self.discovered.add(key):
            if not self.spec.allows_url(normalize(target) or target):
                self._outcome(target, "skipped", "offsite", follow_up.depth, request.url, request=follow_up)
            else:
                self._admit(target, follow_up.depth, request.url, redirect=follow_up)
        elif self.too_deep.pop(key, None):  # reached through a redirect from closer to the start
            self._admit(target, follow_up.depth, request.url, redirect=follow_up)

    def _store(self, response: Response, encoded: bytes | None = None, follow: Request | None = None) -> bool:
        """Write `response` to the WARC and hand it to a page process when one parses it.

        follow: the request whose links are wanted (a fetched page). True when
        those links will arrive from a page process (`_page_done`).
        """
        self.pages.write(response, encoded)
        self.bytes += len(response.body)
        self.statuses[str(response.status)] += 1
        lines = self.lines
        if lines is not None:
            lines.stats["pages"] += 1
        ok = 200 <= response.status < 300
        # Sitemaps and robots.txt are the crawl's own reading, never items (ParsePages skips them too).
        want_item = lines is not None and ok and self.spec.is_item_page(response.url) and (
            "source" not in response.request.meta)
        want_links = follow is not None and ok and self.finder.wants(response.content_type, response.body)
        if not (want_item or want_links):
            return False
        if not self.page_work:
            if want_item:
                lines.complete = False  # type: ignore[union-attr]
            return False
        place = lines.reserve() if want_item else None  # type: ignore[union-attr]
        job = next(self._jobs)
        self.awaiting[job] = (follow if want_links else None, response, place)
        try:
            self.page_work[job % len(self.page_work)].submit(
                job, follow.depth if follow is not None else 0, response.url, response.status, response.headers,
                response.body, response.encoding or response.charset or "utf-8", want_links, want_item)
        except OSError as exc:  # the process is gone: this page and the waiting ones are done here
            self._page_work_gone(f"cannot take pages ({exc})")
        return want_links

    # -- page processes -------------------------------------------------
    def _start_page_work(self) -> None:
        wanted = self.settings.parse_workers
        try:
            self.page_work = [PageWork(self.spec, self._results.put) for _ in range(wanted)]
        except (pickle.PicklingError, AttributeError, TypeError, OSError) as exc:  # a hook not importable by name
            log.warning("pages are parsed in the fetch threads: the spec cannot be sent to a page process (%s)", exc)
            self._stop_page_work()

    def _stop_page_work(self) -> None:
        workers, self.page_work = self.page_work, []
        for worker in workers:
            worker.close()

    def _page_done(self, reply: PageReply | PageWorkGone) -> None:
        if isinstance(reply, PageWorkGone):
            return self._page_work_gone(f"exited with status {reply.returncode}")
        entry = self.awaiting.pop(reply.seq, None)
        if entry is None:  # done here already, after a process died
            return
        follow, response, place = entry
        links = reply.links
        error = reply.link_error
        if reply.kind == "crash":
            log.warning("the page process failed on %s (%s); its links are extracted here", response.url, reply.line)
            links, error = self._links_here(response) if follow is not None else (None, None)
            reply.kind = reply.line = None
        if place is not None:
            self.lines.put(place, reply.kind, reply.line)  # type: ignore[union-attr]
        if follow is not None:
            self._found(links, error, follow)

    def _page_work_gone(self, why: str) -> None:
        """A page process died: the crawl goes on without them, ParsePages parses the WARC."""
        if not self.page_work:
            return
        log.warning("a page process %s; the crawl goes on extracting links in its threads "
                    "and ParsePages will parse the WARC", why)
        self._stop_page_work()
        waiting, self.awaiting = self.awaiting, {}
        for follow, response, place in waiting.values():
            if place is not None:
                self.lines.put(place, None, None)  # type: ignore[union-attr]
            if follow is not None:
                self._found(*self._links_here(response), follow)

    def _links_here(self, response: Response) -> tuple[list[Link], str | None]:
        """A page's links found in this process (no page process): the plain <a> path when that is all."""
        encoding = response.encoding or response.charset
        if self.finder.only_anchors:
            return list(extract_links(response.body, response.url, encoding)), None
        try:
            return self.finder.find(response.url, response.status, response.headers, response.body,
                                    encoding or "utf-8", response.is_html)
        except ValueError:  # a body lxml cannot take (e.g. an XML declaration with a str): no links
            return [], None

    def stats(self, elapsed: float) -> dict:
        fetched = self.counts["fetched"]
        queued = sum(len(q) for q in self.pending.values()) + len(self.delayed) + self.inflight
        skipped_by_reason = dict(self.reasons["skipped"])
        if self.too_deep:  # outcomes not written yet, but decided unless a closer link turns up
            skipped_by_reason["max_depth"] = skipped_by_reason.get("max_depth", 0) + len(self.too_deep)
        return {
            "discovered": len(self.discovered),
            "fetched": fetched,
            "failed": self.counts["failed"],
            "skipped": self.counts["skipped"] + len(self.too_deep),
            "queued": queued,
            "requests": self.fetch_stats.counters["requests"],
            "failed_by_reason": dict(self.reasons["failed"]),
            "skipped_by_reason": skipped_by_reason,
            "skipped_by_budget": dict(self.budget_skipped),
            "link_errors": self.link_errors,
            "responses_by_status": dict(self.statuses),
            "bytes": self.bytes,
            "retries": sum(self.fetch_stats.prefixed("retries/").values()),
            "retries_by_reason": self.fetch_stats.prefixed("retries/"),
            "middleware": {k: v for k, v in self.fetch_stats.counters.items()
                           if not k.startswith(("retries/", "requests"))},
            "elapsed_s": round(elapsed, 3),
            "pages_per_s": round(fetched / elapsed, 1) if elapsed > 0 else 0.0,
        }
