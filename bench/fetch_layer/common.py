"""What both crawl children share (standard library only: the asyncio child runs
in its own venv): the scope rule, the result file, CPU and wall clocks.

The scope rule is the one ``Crawler.discover`` applies to a link of the demo
spec: inside ``allowed_domains`` and matching ``follow`` or ``item_pages``.
Dedupe is the crawler's too: every normalised link goes into one ``seen`` set
(followed or not) and is scheduled at most once.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import resource
import time
from collections.abc import Iterable
from pathlib import Path
from urllib.parse import urlsplit


class Scope:
    def __init__(self, allowed: Iterable[str], follow: Iterable[str], item_pages: str | None) -> None:
        self.allowed = tuple(d.lower() for d in allowed)
        patterns = [re.compile(p) for p in follow]
        if item_pages:
            patterns.append(re.compile(item_pages))
        self.patterns = tuple(patterns)

    def wanted(self, url: str) -> bool:
        host = (urlsplit(url).hostname or "").lower()
        if not any(host == d or host.endswith("." + d) for d in self.allowed):
            return False
        return any(p.search(url) for p in self.patterns)


def child_args(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--start", action="append", default=[], help="a start URL (repeatable)")
    parser.add_argument("--allowed", action="append", default=[], help="an allowed domain (repeatable)")
    parser.add_argument("--follow", action="append", default=[], help="a follow regex (repeatable)")
    parser.add_argument("--item-pages", default=None, help="the item_pages regex")
    parser.add_argument("--concurrency", type=int, required=True)
    parser.add_argument("--timeout", type=float, default=10.0)
    parser.add_argument("--user-agent", default="crawlops-bench/0.1")
    parser.add_argument("--result", type=Path, required=True, help="write the result JSON here")
    return parser


def cpu_now() -> float:
    """User + system CPU seconds of this process so far (all threads)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Clock:
    """Wall and CPU time of the crawl loop alone (imports and start-up excluded)."""

    def __enter__(self) -> Clock:
        self.cpu0, self.wall0 = cpu_now(), time.monotonic()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall_s = time.monotonic() - self.wall0
        self.cpu_s = cpu_now() - self.cpu0


def paths_digest(urls: Iterable[str]) -> str:
    """One hash of the paths (and queries) of a set of URLs, to check that two crawls
    of two servers (two ports) fetched the same pages."""
    digest = hashlib.sha1()
    for url in sorted(urlsplit(u)._replace(scheme="", netloc="").geturl() for u in urls):
        digest.update(url.encode("utf-8") + b"\n")
    return digest.hexdigest()


def write_result(path: Path, clock: Clock, fetched: Iterable[str], **extra: object) -> None:
    fetched = list(fetched)
    path.write_text(json.dumps({
        "pages": len(fetched), "paths_digest": paths_digest(fetched),
        "crawl_wall_s": round(clock.wall_s, 4), "crawl_cpu_s": round(clock.cpu_s, 4), **extra,
    }) + "\n", encoding="utf-8")
