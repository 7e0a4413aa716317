"""The asyncio side of the fetch-layer benchmark; runs in var/bench/async-venv.

The same work as ``threaded.py minimal``: N tasks take URLs from one
``asyncio.Queue``, GET them through one ``aiohttp.ClientSession`` (keep-alive
connector limited to N connections), extract links with our
``pipelines.fetch.links.extract_links`` (lxml, in the event loop's thread)
and schedule unseen in-scope links. ``--uvloop`` runs it on uvloop.

The repository root must be on PYTHONPATH (run.py sets it); only
``pipelines.fetch.links`` is imported from it (lxml and w3lib are in the venv).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import aiohttp  # noqa: E402
from common import Clock, Scope, child_args, write_result  # noqa: E402

from pipelines.fetch.links import extract_links, normalize  # noqa: E402

HTML_TYPES = ("text/html", "application/xhtml+xml")


async def crawl(args: argparse.Namespace, fetched: list[str], failures: Counter[str], seen: set[str]) -> None:
    scope = Scope(args.allowed, args.follow, args.item_pages)
    concurrency: int = args.concurrency
    headers = {  # what HttpDownloader sends
        "User-Agent": args.user_agent,
        "Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
        "Accept-Encoding": "gzip, deflate",
    }
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    todo: asyncio.Queue[str] = asyncio.Queue()
    for url in args.start:
        normal = normalize(url)
        if normal is not None and normal not in seen:
            seen.add(normal)
            todo.put_nowait(normal)

    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
        async def worker() -> None:
            while True:
                url = await todo.get()
                try:
                    try:
                        async with session.get(url, allow_redirects=False) as response:
                            body = await response.read()
                            status, ctype, charset = response.status, response.content_type, response.charset
                    except (aiohttp.ClientError, TimeoutError) as exc:
                        failures[type(exc).__name__] += 1
                        continue
                    if status != 200:
                        failures[f"http_{status}"] += 1
                        continue
                    fetched.append(url)
                    if ctype in HTML_TYPES:
                        for link in extract_links(body, url, charset):
                            if link not in seen:
                                seen.add(link)
                                if scope.wanted(link):
                                    todo.put_nowait(link)
                finally:
                    todo.task_done()

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await todo.join()
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)


def main() -> int:
    parser = child_args(__doc__.split("\n\n")[0])
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio's own loop")
    args = parser.parse_args()
    if not args.start:
        parser.error("give at least one --start URL")
    if args.uvloop:
        import uvloop

        uvloop.install()
    fetched: list[str] = []
    failures: Counter[str] = Counter()
    seen: set[str] = set()
    with Clock() as clock:
        asyncio.run(crawl(args, fetched, failures, seen))
    write_result(args.result, clock, fetched, failed=sum(failures.values()), failed_by_reason=dict(failures),
                 discovered=len(seen), aiohttp=aiohttp.__version__,
                 loop="uvloop" if args.uvloop else "asyncio")
    return 0


if __name__ == "__main__":
    sys.exit(main())
