"""webmon's own responses by status class, counted in this process (crawl_http_responses_total).

RequestLogMiddleware calls `count` for every response; a counter per process,
like any in-process Prometheus counter (a restart starts it at 0 again).
"""

from __future__ import annotations

import threading

CLASSES = ("1xx", "2xx", "3xx", "4xx", "5xx")
_counts = dict.fromkeys(CLASSES, 0)
_lock = threading.Lock()


def count(status: int) -> None:
    if 100 <= status <= 599:
        with _lock:
            _counts[f"{status // 100}xx"] += 1


def counts() -> dict[str, int]:
    with _lock:
        return dict(_counts)
