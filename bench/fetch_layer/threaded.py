"""The threaded side of the fetch-layer benchmark; one crawl per process, run by run.py.

Two modes:

* ``crawler --spec FILE``: our ``Crawler`` (coordinator + worker threads +
  middleware chain) on a crawl spec, pages to a WARC (``--warc``) or to a
  writer that drops them, outcomes to ``--outcomes`` (default /dev/null).
  ``--instrument`` adds up, per worker thread, the CPU time
  (``time.thread_time``) spent in ``MiddlewareManager.download`` and in the
  downloader's ``fetch`` below it: the difference is what the chain costs.
  ``--hooks`` also times each middleware hook, to say which middleware costs
  what (its own clocks inflate the chain's total a little: a separate run).
* ``minimal``: the least a threaded crawler can do, the same work as the
  asyncio child: N threads take URLs from one queue, GET them with our
  ``HttpDownloader`` (urllib3, keep-alive), extract links with
  ``extract_links`` and schedule unseen in-scope links.

Writes one JSON object to ``--result``.
"""

from __future__ import annotations

import os
import queue
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))

from common import Clock, Scope, child_args, write_result  # noqa: E402


class _Recorder:
    """A PageWriter stand-in (or wrapper) that notes the URL of every 200 response."""

    def __init__(self, inner: Any = None) -> None:
        self.inner = inner
        self.ok: list[str] = []

    def write(self, response: Any) -> None:
        if response.status == 200:
            self.ok.append(response.url)
        if self.inner is not None:
            self.inner.write(response)


def _instrument(crawler: Any) -> dict[int, list[float]]:
    """Per-thread [download CPU, fetch CPU, requests] of top-level chain calls."""
    manager, downloader = crawler.middlewares, crawler.middlewares.downloader
    local = threading.local()
    per_thread: dict[int, list[float]] = {}
    download, fetch = manager.download, downloader.fetch

    def timed_download(request: Any) -> Any:
        depth = getattr(local, "depth", 0)
        local.depth = depth + 1
        started = time.thread_time()
        try:
            return download(request)
        finally:
            local.depth = depth
            if depth == 0:  # robots.txt goes through the chain from inside a download
                acc = per_thread.setdefault(threading.get_ident(), [0.0, 0.0, 0])
                acc[0] += time.thread_time() - started
                acc[2] += 1

    def timed_fetch(request: Any) -> Any:
        started = time.thread_time()
        try:
            return fetch(request)
        finally:
            if getattr(local, "depth", 0) == 1:  # the page's own fetch; robots' counts as chain
                per_thread.setdefault(threading.get_ident(), [0.0, 0.0, 0])[1] += time.thread_time() - started

    manager.download = timed_download
    downloader.fetch = timed_fetch
    return per_thread


def _instrument_each(crawler: Any) -> dict[int, dict[str, list[float]]]:
    """Per thread, per middleware hook: [CPU seconds, calls] (robots' own download counts as robots')."""
    from pipelines.fetch.middleware import DownloaderMiddleware

    per_thread: dict[int, dict[str, list[float]]] = {}
    for middleware in crawler.middlewares.middlewares:
        for hook in ("process_request", "process_response", "process_exception"):
            if getattr(type(middleware), hook) is getattr(DownloaderMiddleware, hook):
                continue
            # The manager calls middleware.<hook>: an instance attribute wins over the class's method.
            setattr(middleware, hook, _timed(getattr(middleware, hook), f"{type(middleware).__name__}.{hook}",
                                             per_thread))
    return per_thread


def _timed(inner: Any, key: str, per_thread: dict[int, dict[str, list[float]]]) -> Any:
    def timed(*args: Any) -> Any:
        started = time.thread_time()
        try:
            return inner(*args)
        finally:
            acc = per_thread.setdefault(threading.get_ident(), {}).setdefault(key, [0.0, 0])
            acc[0] += time.thread_time() - started
            acc[1] += 1

    return timed


def run_crawler(args: Any) -> None:
    import tomllib

    from pipelines.fetch.crawler import Crawler
    from pipelines.spec import parse_spec
    from pipelines.warc import PageWriter

    spec = parse_spec(tomllib.loads(args.spec.read_text(encoding="utf-8")), args.spec)
    warc = open(args.warc, "wb") if args.warc else None
    outcomes = open(args.outcomes or os.devnull, "w", encoding="utf-8")
    try:
        with Clock() as clock:
            pages = _Recorder(PageWriter(warc, {"software": "bench"}) if warc else None)
            crawler = Crawler(spec, pages, outcomes)  # type: ignore[arg-type]
            per_thread = _instrument(crawler) if args.instrument else {}
            per_hook = _instrument_each(crawler) if args.hooks else {}
            stats = crawler.run()
    finally:
        outcomes.close()
        if warc:
            warc.close()
    extra: dict[str, Any] = {"enabled_middlewares": crawler.middlewares.enabled, "stats": stats}
    if per_thread:
        download = sum(v[0] for v in per_thread.values())
        fetch = sum(v[1] for v in per_thread.values())
        requests = int(sum(v[2] for v in per_thread.values()))
        extra["chain"] = {"requests": requests, "download_cpu_s": round(download, 4),
                          "fetch_cpu_s": round(fetch, 4), "chain_cpu_s": round(download - fetch, 4)}
        hooks: dict[str, list[float]] = {}
        for counters in per_hook.values():
            for key, (cpu, calls) in counters.items():
                total = hooks.setdefault(key, [0.0, 0])
                total[0] += cpu
                total[1] += calls
        extra["chain"]["by_hook"] = {k: {"cpu_s": round(v[0], 4), "calls": int(v[1])} for k, v in hooks.items()}
    if args.warc:
        extra["warc_bytes"] = args.warc.stat().st_size
    write_result(args.result, clock, pages.ok, failed=stats["failed"], failed_by_reason=stats["failed_by_reason"],
                 **extra)


def run_minimal(args: Any) -> None:
    from pipelines.exceptions import FetchError
    from pipelines.fetch.http import HttpDownloader, Request
    from pipelines.fetch.links import extract_links, normalize

    scope = Scope(args.allowed, args.follow, args.item_pages)
    with Clock() as clock:
        downloader = HttpDownloader(timeout=args.timeout, max_bytes=10 * 1024 * 1024, user_agent=args.user_agent,
                                    pool_size=args.concurrency)
        todo: queue.Queue[str | None] = queue.Queue()
        seen: set[str] = set()
        fetched: list[str] = []
        failures: Counter[str] = Counter()
        lock = threading.Lock()
        for url in args.start:
            normal = normalize(url)
            if normal is not None and normal not in seen:
                seen.add(normal)
                todo.put(normal)

        def worker() -> None:
            while True:
                url = todo.get()
                if url is None:
                    return
                try:
                    try:
                        response = downloader.fetch(Request(url))
                    except FetchError as exc:
                        with lock:
                            failures[exc.reason] += 1
                        continue
                    ok = response.status == 200
                    links = extract_links(response.body, response.url, response.charset) \
                        if ok and response.is_html else ()
                    with lock:
                        if ok:
                            fetched.append(url)
                        else:
                            failures[f"http_{response.status}"] += 1
                        for link in links:
                            if link not in seen:
                                seen.add(link)
                                if scope.wanted(link):
                                    todo.put(link)
                finally:
                    todo.task_done()

        threads = [threading.Thread(target=worker, name=f"fetch-{i}") for i in range(args.concurrency)]
        for thread in threads:
            thread.start()
        todo.join()
        for _ in threads:
            todo.put(None)
        for thread in threads:
            thread.join()
        downloader.close()
    write_result(args.result, clock, fetched, failed=sum(failures.values()), failed_by_reason=dict(failures),
                 discovered=len(seen))


def main() -> int:
    parser = child_args(__doc__.split("\n\n")[0])
    parser.add_argument("mode", choices=("crawler", "minimal"))
    parser.add_argument("--spec", type=Path, help="crawler mode: the crawl spec file")
    parser.add_argument("--warc", type=Path, help="crawler mode: write pages to this WARC")
    parser.add_argument("--outcomes", type=Path, help="crawler mode: outcome lines here (default /dev/null)")
    parser.add_argument("--instrument", action="store_true", help="crawler mode: measure the chain's CPU")
    parser.add_argument("--hooks", action="store_true",
                        help="crawler mode, with --instrument: also the CPU of each middleware hook "
                             "(its clocks add ~1.5 µs per hook call to the chain's figure)")
    args = parser.parse_args()
    if args.mode == "crawler":
        if args.spec is None:
            parser.error("crawler mode needs --spec")
        run_crawler(args)
    else:
        run_minimal(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
