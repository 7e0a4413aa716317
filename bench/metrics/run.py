"""/metrics time vs history size: 10,000, 100,000 and 1,000,000 history records, side by side.

Usage (from the repository root)::

    .venv/bin/python bench/metrics/run.py [--sizes 10000,100000,1000000] [--requests 50] [--rounds 3]
                                          [--db sqlite|postgres] [--reseed]

Method
------
* History DB per size N (SQLite ``var/bench/metrics-history-<N>.db``, kept and
  reused unless ``--reseed``; or a scratch PostgreSQL database with ``--db
  postgres``, dropped afterwards): N ``crawl_runs`` rows bulk-inserted (ticks
  of FetchPages, ParsePages, StoreItems and RunCrawl over 20 crawls, 4 % of
  stages failed, 0.5 % killed, each stage with its real ``run_stats``), then
  the totals built once by our code path, ``totals.rebuild`` (what ``python -m
  pipelines.runs.totals --rebuild`` does; timed). Then 100 more runs through
  the worker's path (``records.create_run`` + ``records.finish``, which updates
  the totals in the finish's transaction); the median time of a finish is
  reported, to show the workers' side stays flat too.
* webmon DB per size (SQLite, migrated): 20 schedules and N ScheduledRun rows
  (the same N), 40 of them open (each schedule's newest running, one queued),
  one daemon heartbeat.
* Servers: one real luigid (no history); one webmon per size started as
  ``scheduler.sh up`` starts it (``runserver --noreload``, DEBUG=false), all
  three alive at once. Requests come from 127.0.0.1 (the allow-list).
* Per size: the first scrapes are timed alone: they count the N scheduled
  runs that ended before webmon had the metrics app (an aggregate over at most
  100,000 runs a scrape), until the cursor reaches the newest run; the number
  of those scrapes and the slowest is reported. Then per round, sizes
  interleaved: 3 warm-up requests, ``--requests`` timed GETs on a kept-alive
  connection, whole body read; median and p95 (nearest rank). The server's
  own time (X-Page-Duration-ms) is recorded too. Every answer must be 200 with
  ``crawl_exporter_errors_total`` at 0, else the bench stops.
* Noise: CPU the whole machine spent (/proc/stat) during the timed requests
  minus that of this process, the webmon and luigid (and PostgreSQL's
  postmaster tree), per wall second; the round with the least is reported.
* Beside it, the reads the totals replace, timed in-process (median of 3):
  a GROUP BY (family, status) over crawl_runs with duration sums, and a COUNT
  grouped by (schedule, state) over ScheduledRun.
* ``promtool check metrics`` on one scrape of each size.
* Target: median and p95 <= 100 ms at 1,000,000, and flat.

Results go to ``var/bench/metrics-<db>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench" / "crawl_vs_scrapy")]

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from harness import (  # noqa: E402
    BenchError,
    _stop,
    free_port,
    machine_busy_seconds,
    machine_info,
    wait_http,
)
from measure import postmaster_pid, tree_cpu_seconds  # noqa: E402

from pipelines.runs import records, totals  # noqa: E402
from pipelines.runs.models import runs as runs_table  # noqa: E402

CACHE = REPO / "var" / "bench"
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PYTHON = sys.executable
TARGET_MS = 100.0
NOISE = 0.10
CRAWLS = tuple(f"crawl{i:02d}" for i in range(20))
SCHEDULES = 20
NOW = datetime.now(UTC).replace(microsecond=0)
FETCH = {"fetched": 480, "failed": 12, "skipped": 40, "queued": 0, "requests": 505, "bytes": 9_600_000,
         "retries": 13, "failed_by_reason": {"timeout": 5, "http_404": 6, "http_503": 1},
         "skipped_by_reason": {"offsite": 30, "robots": 10}, "responses_by_status": {"200": 470, "404": 6, "503": 4},
         "retries_by_reason": {"timeout": 9, "http_503": 4}, "middleware": {}, "elapsed_s": 41.2, "pages_per_s": 11.6}
PARSE = {"pages": 490, "item_pages": 400, "items": 396, "no_item": 1, "errors": 3, "error_ratio": 0.0075,
         "elapsed_s": 3.1}
STORE = {"items": 396, "new": 12, "changed": 30, "unchanged": 354, "duplicates": 0}


def say(text: str) -> None:
    print(text, flush=True)


# -- seeding ----------------------------------------------------------------------------------


def run_rows(n: int) -> Iterator[dict[str, Any]]:
    """n crawl_runs rows: ticks of the 4 stages over 20 crawls, newest ending now."""
    rnd = random.Random(42)
    stages = (("FetchPages", 40.0, FETCH), ("ParsePages", 4.0, PARSE), ("StoreItems", 2.0, STORE),
              ("RunCrawl", 0.5, {"summary": "ok"}))
    for i in range(n):
        tick, stage = divmod(i, 4)
        family, seconds, stats = stages[stage]
        crawl = CRAWLS[tick % len(CRAWLS)]
        start = NOW - timedelta(minutes=(n // 4 - tick) * 3, seconds=-stage * 60)
        roll = rnd.random()
        status = "killed" if roll < 0.005 else "failed" if roll < 0.045 else "done"
        took = seconds * (0.5 + rnd.random())
        yield {
            "task_id": f"{family}_{crawl}_{start:%Y%m%dT%H%M}_{i:x}", "family": family, "crawl": crawl,
            "params": json.dumps({"crawl": crawl, "at": f"{start:%Y-%m-%dT%H%M}"}), "host": "worker-1", "pid": 4242,
            "worker": "w", "attempt": 1, "status": status, "started_at": start,
            "finished_at": start + timedelta(seconds=took), "heartbeat_at": start + timedelta(seconds=took),
            "error_type": "RuntimeError" if status == "failed" else None,
            "error_message": "boom" if status == "failed" else None, "traceback": None,
            "stats": json.dumps(stats) if status == "done" else None, "log_lines": 0, "log_truncated": False,
        }


def seed_history(url: str, n: int) -> dict[str, float]:
    engine = records.new_engine(url)
    records.create_tables(engine)
    started = time.monotonic()
    batch: list[dict[str, Any]] = []
    with engine.begin() as conn:
        for row in run_rows(n):
            batch.append(row)
            if len(batch) == 50_000:
                conn.execute(runs_table.insert(), batch)
                batch.clear()
        if batch:
            conn.execute(runs_table.insert(), batch)
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    seeded = time.monotonic() - started
    started = time.monotonic()
    read = totals.rebuild(engine)
    rebuild_s = time.monotonic() - started
    if read != n:
        raise BenchError(f"the rebuild read {read} runs, expected {n}")
    engine.dispose()
    return {"seed_s": round(seeded, 1), "rebuild_s": round(rebuild_s, 1)}


def worker_finishes(url: str, count: int = 100) -> float:
    """Median ms of records.finish (the run's UPDATE plus its totals, one transaction) on this history."""
    engine = records.new_engine(url)
    took = []
    for i in range(count):
        run_id, _ = records.create_run(engine, task_id=f"bench-{uuid.uuid4().hex}", family="FetchPages",
                                       crawl=CRAWLS[i % 20], params="{}", host="bench", pid=os.getpid(), worker=None,
                                       now=datetime.now(UTC))
        started = time.perf_counter()
        records.finish(engine, run_id, status="done", now=datetime.now(UTC), stats=json.dumps(FETCH))
        took.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return round(statistics.median(took), 2)


def naive_history_ms(url: str) -> float:
    """The read the totals replace: every run grouped by family and status, with durations."""
    engine = records.new_engine(url)
    if engine.dialect.name == "sqlite":
        duration = "(julianday(finished_at) - julianday(started_at)) * 86400"
    else:
        duration = "EXTRACT(EPOCH FROM finished_at - started_at)"
    query = sa.text(f"SELECT family, status, COUNT(*), SUM({duration}), MAX(finished_at) FROM crawl_runs "
                    "WHERE finished_at IS NOT NULL GROUP BY family, status")
    took = []
    with engine.connect() as conn:
        for _ in range(3):
            started = time.perf_counter()
            conn.execute(query).all()
            took.append((time.perf_counter() - started) * 1000)
    engine.dispose()
    return round(statistics.median(took), 1)


def migrated_webmon_db(home: Path) -> Path:
    template = home / "webmon-template.db"
    if not template.exists():
        env = {**base_env(), "DATABASE_URL": f"sqlite:///{template}", "SECRET_KEY": "bench-" + uuid.uuid4().hex}
        done = subprocess.run([PYTHON, str(REPO / "manage.py"), "migrate", "--noinput", "-v", "0"], cwd=REPO,
                              env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise BenchError(f"manage.py migrate failed: {done.stderr[-2000:]}")
    return template


def _django_dt(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ")  # how Django's SQLite backend stores them


def seed_webmon(db: Path, n: int) -> float:
    """20 schedules, n scheduled runs (each schedule's newest running and one queued, the rest ended)."""
    started = time.monotonic()
    con = sqlite3.connect(db)
    with con:
        for s in range(SCHEDULES):
            con.execute(
                "INSERT INTO scheduling_schedule (name, crawl, cron, timezone, interval_seconds, enabled, start_at, "
                "end_at, catchup, max_active_runs, overlap, jitter_seconds, retries, retry_delay_seconds, "
                "retry_exponential, max_retry_delay_seconds, timeout_seconds, grace_seconds, params, state, "
                "last_tick, next_due, last_success, task, task_params) VALUES (?, ?, ?, 'UTC', NULL, 1, ?, NULL, 'latest', "
                "1, 'skip', 0, 2, 60, 1, 3600, NULL, 300, '{}', 'up', ?, ?, ?, 'RunCrawl', '{}')",
                (f"sched{s:02d}", CRAWLS[s], f"{s % 60} * * * *", _django_dt(NOW - timedelta(days=3650)),
                 _django_dt(NOW), _django_dt(NOW + timedelta(hours=1)), _django_dt(NOW)))
        ids = [row[0] for row in con.execute("SELECT id FROM scheduling_schedule ORDER BY name")]
        per = n // SCHEDULES
        rows = []
        rnd = random.Random(7)
        for sid in ids:
            for k in range(per):
                at = NOW - timedelta(hours=per - k)
                newest, queued = k == per - 1, k == per - 2
                state = "running" if newest else "queued" if queued else rnd.choice(
                    ("success",) * 17 + ("failed", "skipped", "timed_out"))
                started_at = None if queued or state == "skipped" else at + timedelta(seconds=rnd.random() * 3)
                rows.append((at, "schedule", state, "", "{}", 0 if started_at is None else 1, None, "", None, None,
                             started_at, None if state in ("running", "queued") else at + timedelta(minutes=2), "",
                             "", at, sid))
        con.executemany(
            "INSERT INTO scheduling_scheduledrun (logical_time, \"trigger\", state, reason, params, attempts, "
            "not_before, claimed_by, pid, exit_code, started_at, finished_at, luigi_task_id, output_path, "
            "created_at, schedule_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [tuple(_django_dt(v) if isinstance(v, datetime) else v for v in row) for row in rows])
        con.execute("INSERT INTO scheduling_daemonheartbeat (name, started_at, beat_at) VALUES ('bench:1', ?, ?)",
                    (_django_dt(NOW), _django_dt(NOW)))
    con.execute("ANALYZE")
    con.close()
    return round(time.monotonic() - started, 1)


def naive_schedule_ms(db: Path) -> float:
    con = sqlite3.connect(db)
    took = []
    for _ in range(3):
        started = time.perf_counter()
        con.execute("SELECT schedule_id, state, COUNT(*) FROM scheduling_scheduledrun "
                    "GROUP BY schedule_id, state").fetchall()
        took.append((time.perf_counter() - started) * 1000)
    con.close()
    return round(statistics.median(took), 1)


# -- servers --------------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("LUIGI_", "CRAWL_", "WEBMON_", "DJANGO_", "METRICS_"))}
    env.update(TZ="UTC", PYTHONPATH=str(REPO))
    return env


@contextmanager
def luigid(home: Path) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    cfg = home / "luigid.cfg"
    cfg.write_text(f"[scheduler]\nrecord_task_history = false\nstate_path = {home}/luigid-state.pickle\n")
    log = home / "luigid.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([PYTHON, "-c", "import luigi.cmdline; luigi.cmdline.luigid()", "--address",
                                 "127.0.0.1", "--port", str(port)], cwd=home,
                                env={**base_env(), "LUIGI_CONFIG_PATH": str(cfg)}, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/task_list", proc, log)
        yield proc, url
    finally:
        _stop(proc)


@contextmanager
def webmon(home: Path, name: str, db: Path, history_url: str, luigid_url: str
           ) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    cfg = home / f"{name}.cfg"
    cfg.write_text(f"[task_history]\ndb_connection = {history_url}\n")
    env = {**base_env(), "DEBUG": "false", "SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
           "DATABASE_URL": f"sqlite:///{db}", "LUIGI_CONFIG_PATH": str(cfg), "LUIGID_URL": luigid_url}
    port = free_port()
    log = home / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([PYTHON, str(REPO / "manage.py"), "runserver", "--noreload", "--skip-checks",
                                 f"127.0.0.1:{port}"], cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/healthz", proc, log)
        yield proc, url
    finally:
        _stop(proc)


# -- measuring -------------------------------------------------------------------------------


@dataclass
class Round:
    times_ms: list[float]
    server_ms: list[float]
    wall_s: float
    others_cpu_s: float

    @property
    def noise(self) -> float:
        return self.others_cpu_s / self.wall_s if self.wall_s else 0.0


@dataclass
class SizeResult:
    size: int
    db: str
    seed: dict[str, float] = field(default_factory=dict)
    finish_ms: float = 0.0
    catch_up_scrapes: int = 0
    catch_up_max_ms: float = 0.0
    naive_history_ms: float = 0.0
    naive_schedule_ms: float = 0.0
    rounds: list[Round] = field(default_factory=list)
    promtool: str = ""
    body_bytes: int = 0

    def best(self) -> Round:
        return min(self.rounds, key=lambda r: r.noise)


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]  # nearest rank


def get(session: requests.Session, url: str) -> tuple[float, float, bytes]:
    started = time.perf_counter()
    response = session.get(f"{url}/metrics", timeout=30)
    body = response.content
    took = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise BenchError(f"{url}/metrics answered {response.status_code}: {body[:300]!r}")
    for line in body.decode().splitlines():
        if line.startswith("crawl_exporter_errors_total") and not line.endswith(" 0.0"):
            raise BenchError(f"{url}/metrics: {line}")
    return took, float(response.headers["X-Page-Duration-ms"]), body


def measure(session: requests.Session, url: str, requests_: int, pids: list[int | None]) -> Round:
    for _ in range(3):
        get(session, url)
    ours_before = sum(tree_cpu_seconds(p) for p in pids) + time.process_time()
    busy_before, wall_before = machine_busy_seconds(), time.monotonic()
    times, server = [], []
    for _ in range(requests_):
        took, on_server, _body = get(session, url)
        times.append(round(took, 2))
        server.append(on_server)
    wall = time.monotonic() - wall_before
    busy = machine_busy_seconds() - busy_before
    ours = sum(tree_cpu_seconds(p) for p in pids) + time.process_time() - ours_before
    return Round(times, server, round(wall, 3), round(max(0.0, busy - ours), 3))


def caught_up(db: Path) -> bool:
    """Whether /metrics has looked at every scheduled run (its cursor is at the newest)."""
    con = sqlite3.connect(db)
    try:
        cursor = con.execute("SELECT last_id FROM metrics_cursor").fetchone()
        newest = con.execute("SELECT MAX(id) FROM scheduling_scheduledrun").fetchone()[0]
    finally:
        con.close()
    return cursor is not None and cursor[0] >= newest


def promtool(body: bytes) -> str:
    tool = shutil.which("promtool")
    if tool is None:
        return "promtool not installed"
    done = subprocess.run([tool, "check", "metrics"], input=body, capture_output=True, timeout=30)
    return "ok" if done.returncode == 0 and not (done.stdout + done.stderr).strip() else \
        (done.stdout + done.stderr).decode()[:500]


@contextmanager
def postgres_db() -> Iterator[str]:
    import psycopg2

    admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    admin.autocommit = True
    name = f"bench_metrics_{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_ADMIN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+psycopg2://')}/{name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---:" if i else "---" for i in range(len(headers))) + "|"]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def report(results: list[SizeResult]) -> str:
    rows = []
    for r in results:
        best = r.best()
        rows.append([
            f"{r.size:,}", r.db, f"{statistics.median(best.times_ms):.1f}", f"{p95(best.times_ms):.1f}",
            f"{statistics.median(best.server_ms):.1f}", f"{r.catch_up_scrapes} ({r.catch_up_max_ms:.0f})",
            f"{r.finish_ms:.2f}",
            f"{r.naive_history_ms:.1f}", f"{r.naive_schedule_ms:.1f}", f"{r.seed.get('rebuild_s', 0):.1f}",
            f"{best.noise:.0%}", r.promtool,
        ])
    return table(["history records", "DB", "/metrics median ms", "p95 ms", "server median ms",
                  "catch-up scrapes (slowest ms)", "finish() ms", "naive GROUP BY crawl_runs ms",
                  "naive COUNT ScheduledRun ms", "--rebuild s", "noise", "promtool"], rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--reseed", action="store_true", help="seed the SQLite history DBs again")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    CACHE.mkdir(parents=True, exist_ok=True)
    info = machine_info()
    say(f"machine: {info}")
    home = Path(tempfile.mkdtemp(prefix="bench-metrics-"))
    results = [SizeResult(n, args.db) for n in sizes]
    try:
        with ExitStack() as stack:
            urls = {}
            template = migrated_webmon_db(home)
            for r in results:
                if args.db == "postgres":
                    history_url = stack.enter_context(postgres_db())
                    r.seed = seed_history(history_url, r.size)
                else:
                    path = CACHE / f"metrics-history-{r.size}.db"
                    history_url = f"sqlite:///{path}"
                    if args.reseed or not path.exists():
                        path.unlink(missing_ok=True)
                        r.seed = seed_history(history_url, r.size)
                    else:
                        started = time.monotonic()
                        engine = records.new_engine(history_url)
                        totals.rebuild(engine)
                        engine.dispose()
                        r.seed = {"rebuild_s": round(time.monotonic() - started, 1)}
                say(f"{r.size:,} history records: {r.seed}")
                r.finish_ms = worker_finishes(history_url)
                r.naive_history_ms = naive_history_ms(history_url)
                db = home / f"webmon-{r.size}.db"
                shutil.copy(template, db)
                r.seed["webmon_seed_s"] = seed_webmon(db, r.size)
                r.naive_schedule_ms = naive_schedule_ms(db)
                urls[r.size] = history_url, db
            luigid_proc, luigid_url = stack.enter_context(luigid(home))
            servers = {}
            for r in results:
                history_url, db = urls[r.size]
                proc, url = stack.enter_context(webmon(home, f"webmon-{r.size}", db, history_url, luigid_url))
                session = requests.Session()
                while not caught_up(db):
                    took, _, body = get(session, url)
                    r.catch_up_scrapes += 1
                    r.catch_up_max_ms = max(r.catch_up_max_ms, round(took, 1))
                r.promtool = promtool(body)
                r.body_bytes = len(body)
                servers[r.size] = proc, url, session
                say(f"{r.size:,}: caught up in {r.catch_up_scrapes} scrapes (slowest {r.catch_up_max_ms:.0f} ms), "
                    f"promtool {r.promtool}")
            pg = postmaster_pid() if args.db == "postgres" else None
            for rnd in range(args.rounds):
                for r in results:
                    proc, url, session = servers[r.size]
                    result = measure(session, url, args.requests, [proc.pid, luigid_proc.pid, pg])
                    r.rounds.append(result)
                    say(f"round {rnd + 1} {r.size:,}: median {statistics.median(result.times_ms):.1f} ms, "
                        f"p95 {p95(result.times_ms):.1f} ms, noise {result.noise:.0%}")
    finally:
        shutil.rmtree(home, ignore_errors=True)
    out = {"machine": info, "args": vars(args), "results": [asdict(r) for r in results]}
    (CACHE / f"metrics-{args.db}.json").write_text(json.dumps(out, indent=2))
    say("")
    say(report(results))
    largest = results[-1].best()
    worst = max(statistics.median(largest.times_ms), p95(largest.times_ms))
    say(f"\ntarget <= {TARGET_MS:.0f} ms at {results[-1].size:,}: {'PASS' if worst <= TARGET_MS else 'FAIL'} "
        f"({worst:.1f} ms); noisy rounds (> {NOISE:.0%}): "
        f"{[r.size for r in results if r.best().noise > NOISE] or 'none'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
