"""Where a webmon page spends its time: every query with its time, and the plan of the slow ones.

Usage (from the repository root; the history DB as the bench seeds it)::

    .venv/bin/python bench/webmon/queries.py sqlite:////abs/path/var/bench/webmon-history-1000000.db [PATH ...]
    .venv/bin/python bench/webmon/queries.py postgresql+psycopg2://postgres@127.0.0.1:5432/NAME /families/

Runs the pages in this process (Django's test client, a throwaway user,
luigid pointed at a closed port so it costs nothing), each 3 times, and
prints for the last run: the page's total, and each history query run
again with its rows fetched (Django's own timing stops before SQLite does
the work, at the first row), best of 3; with --explain,
EXPLAIN QUERY PLAN (SQLite) or EXPLAIN ANALYZE (PostgreSQL) of queries over
--slow-ms.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

DEFAULT_PAGES = ["/", "/runs/", "/runs/?status=failed", "/crawl/?name=shop", "/families/", "/healthz"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("history_url")
    parser.add_argument("paths", nargs="*", default=DEFAULT_PAGES)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--slow-ms", type=float, default=10.0)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="webmon-queries-"))
    cfg = tmp / "luigi.cfg"
    cfg.write_text(f"[task_history]\ndb_connection = {args.history_url}\n")
    os.environ["WEBMON_LOG_LEVEL"] = "WARNING"
    os.environ.update(
        DJANGO_SETTINGS_MODULE="webmon.settings", DATABASE_URL="sqlite://", SECRET_KEY="queries-only",
        LUIGI_CONFIG_PATH=str(cfg), LUIGID_URL="http://127.0.0.1:9", DEBUG="false", TZ="UTC",
        SECURE_SSL_REDIRECT="false", WEBMON_SECURE_COOKIES="false", SECURE_HSTS_SECONDS="0", WEBMON_CACHE="locmem",
    )
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import DatabaseError, connections
    from django.test import Client
    from django.test.utils import CaptureQueriesContext, setup_test_environment

    call_command("migrate", verbosity=0)
    setup_test_environment()
    client = Client()
    client.force_login(User.objects.create_user("q", password="queries-only-1"))
    history = connections["history"]
    for path in args.paths:
        for _ in range(3):
            with CaptureQueriesContext(history) as seen:
                started = time.perf_counter()
                response = client.get(path)
                if getattr(response, "streaming", False):
                    b"".join(response.streaming_content)
                total = (time.perf_counter() - started) * 1000
        # Django times execute() only; SQLite does its work while rows are fetched: run each again, fetching.
        timed = []
        for q in seen.captured_queries:
            best, rows = float("inf"), []
            for _ in range(3):
                try:
                    with history.cursor() as cursor:
                        started = time.perf_counter()
                        cursor.execute(q["sql"])
                        rows = cursor.fetchall()
                        best = min(best, (time.perf_counter() - started) * 1000)
                except DatabaseError:  # e.g. our run tables on a history stock Luigi wrote: the page skips them
                    best = 0.0
            timed.append((q, best, len(rows)))
        in_db = sum(ms for _, ms, _ in timed)
        print(f"\n{path}: HTTP {response.status_code}, {total:.1f} ms, history queries {len(timed)}"
              f" taking {in_db:.1f} ms (executed and fetched again, best of 3)")
        for i, (q, ms, n) in enumerate(timed, 1):
            print(f"  {i}. {ms:7.1f} ms {n:6} rows  {q['sql'][:240]}")
            if args.explain and ms >= args.slow_ms:
                explain = "EXPLAIN QUERY PLAN " if history.vendor == "sqlite" else "EXPLAIN (ANALYZE, BUFFERS) "
                with history.cursor() as cursor:
                    cursor.execute(explain + q["sql"])
                    for row in cursor.fetchall():
                        print("       " + " | ".join(str(c) for c in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
