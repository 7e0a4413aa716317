"""The run page's dependency graph and the schedule grid on a big history.

Usage (from the repository root)::

    .venv/bin/python bench/dag/run.py [--runs 300000] [--requests 30] [--url sqlite:////tmp/dag-bench.db]

Method
------
* A history DB (SQLite by default; any SQLAlchemy URL with --url) seeded the
  way its writers write it (tests/webmon/history_seed.py): `--runs` run
  records and one crawl_run_deps row each, in ticks of 1,000 runs (one
  `scheduled_run` per tick); the last run of each tick requires 199 runs of
  its tick, so its graph is the 200-box maximum. Seeding is skipped when the
  file holds the runs already.
* webmon in this process (Django's client, no test instrumentation, luigid
  unreachable so finished runs never ask it), an in-memory webmon DB with a
  schedule whose 30 newest ticks are 30 of those ticks.
* Pages: the run page of a 200-box graph, of a run with no requirements (one
  box), and the grid (30 ticks x 200 tasks of 1,000 runs each: 30,000 rows
  are more than a grid page reads, it stops at 5,000). `--requests` each,
  interleaved; p50 and p95 in ms. The machine's neighbours add noise.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "webmon")]
TICK = 1000
FAN = 199


def seed(url: str, n: int) -> None:
    import sqlalchemy as sa
    from history_seed import HistorySeed, run_row

    from pipelines.runs.models import run_deps, runs

    history = HistorySeed(url)
    with history.engine.connect() as conn:
        have = conn.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one()
    if have >= n:
        return
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for start in range(have, n, 50_000):
        ids = range(start, min(start + 50_000, n))
        history.runs_bulk([run_row(family=f"F{i % 50}", crawl=None, task_id=f"T_{i + 1}", params="{}",
                                   started_at=t0 + timedelta(seconds=i)) for i in ids])
        rows = []
        for i in ids:
            first = (i // TICK) * TICK + 1
            fan = range(first, first + FAN) if i % TICK == TICK - 1 else range(0)
            rows.append({"run_id": i + 1, "scheduled_run": i // TICK + 1, "worker": "w",
                         "requires": json.dumps([{"task_id": f"T_{j}", "family": f"F{(j - 1) % 50}"} for j in fan])})
        with history.engine.begin() as conn:
            conn.execute(run_deps.insert(), rows)
    # PostgreSQL: statistics and the visibility map (index-only scans) as a live
    # history has them after autovacuum; right after a bulk load the plans are worse.
    # (SQLite is left as webmon finds a history: no statistics on crawl_runs.)
    if history.engine.dialect.name == "postgresql":
        with history.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("VACUUM ANALYZE")
    history.engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300_000)
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--url", default="sqlite:////tmp/dag-bench.db")
    args = parser.parse_args()
    # Before anything imports luigi: its configuration is read once, at import.
    work = Path("/tmp/dag-bench")
    work.mkdir(exist_ok=True)
    (work / "luigi.cfg").write_text(f"[task_history]\ndb_connection = {args.url}\n")
    os.environ.update(DJANGO_SETTINGS_MODULE="webmon.settings", DATABASE_URL="sqlite://",
                      SECRET_KEY="bench-only-not-a-secret", LUIGI_CONFIG_PATH=str(work / "luigi.cfg"))
    started = time.perf_counter()
    seed(args.url, args.runs)
    print(f"history: {args.runs:,} runs and crawl_run_deps rows at {args.url} ({time.perf_counter() - started:.0f} s)")
    import django

    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.test import Client, override_settings

    from webmon.scheduling.models import Schedule, ScheduledRun

    call_command("migrate", verbosity=0)
    client = Client()
    client.force_login(User.objects.create_user("bench", password="bench-not-a-secret-1"))
    ticks = args.runs // TICK
    schedule = Schedule.objects.create(name="bench", crawl="", cron="0 * * * *")
    ScheduledRun.objects.bulk_create(
        ScheduledRun(pk=t, schedule=schedule, logical_time=datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=t),
                     state="success") for t in range(max(ticks - 29, 1), ticks + 1))
    big = (ticks - 1) * TICK + TICK  # the last run of the newest full tick: 200 boxes
    pages = {"run page, 200 boxes": f"/runs/{big}/", "run page, 1 box": f"/runs/{big - 1}/",
             "grid, 30 ticks": f"/schedules/{schedule.pk}/grid/"}
    times: dict[str, list[float]] = {name: [] for name in pages}
    with override_settings(LUIGID_URL="http://127.0.0.1:9", ALLOWED_HOSTS=["testserver"], DEBUG=False):
        for name, path in pages.items():  # warm up, and check what each page drew
            response = client.get(path)
            assert response.status_code == 200 and b'id="banner-history"' not in response.content, (name, path)
        for _ in range(args.requests):
            for name, path in pages.items():
                t = time.perf_counter()
                client.get(path)
                times[name].append((time.perf_counter() - t) * 1000)
    print(f"{'page':<22} {'p50 ms':>8} {'p95 ms':>8}")
    for name, values in times.items():
        values.sort()
        p95 = values[min(len(values) - 1, int(len(values) * 0.95))]
        print(f"{name:<22} {statistics.median(values):>8.1f} {p95:>8.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
