"""webmon's pages vs luigid's own history pages, on a history DB of 1,000,000 task records.

Usage (from the repository root)::

    .venv/bin/python bench/webmon/run.py [--rows 1000000] [--db sqlite|postgres|both] [--repeat 20]
                                         [--rounds 3] [--reseed] [--keep-pg] [--history luigi|both]

Method
------
* History DB (bench/webmon/seed.py): N task records through Luigi's own
  tables (3 events and 3 parameters each, 50 families, 90 days up to the seed
  time). ``--history luigi`` (the default): nothing else, as a stock luigid
  leaves a history (no crawl_runs, no table of ours), plus the indexes
  ``manage.py prepare_history`` adds to Luigi's tables. ``--history both``:
  also one run record per task record, plus 200 log lines for 1,000 runs.
  SQLite: cached as ``var/bench/webmon-<luigi-|>history-<rows>.db`` and reused while
  younger than ``--max-age-hours`` (the pages' windows are relative to now);
  ANALYZE after loading. PostgreSQL (127.0.0.1:5432, user postgres): a
  scratch database created for the run and dropped after it (``--keep-pg``
  keeps it), VACUUM ANALYZE after loading.
* webmon: started as ``scheduler.sh up`` starts it (``manage.py migrate``,
  ``manage.py ensure_admin`` with WEBMON_ADMIN_PASSWORD, ``manage.py runserver
  --noreload``), with DEBUG=false, a temp SQLite DATABASE_URL, LUIGI_CONFIG_PATH
  naming the history DB and LUIGID_URL of a real luigid on the same DB. The
  bench logs in through the login form (requests.Session, CSRF token from the
  form) and times each page from the client: request sent to the whole body
  read (the log download included), on a kept-alive connection. Per page: 2
  warm-up requests, then ``--repeat`` timed ones; median and p95 (nearest
  rank: the 19th of 20). Every answer must be 200
  without the history banner, /healthz 200 included, else the bench stops.
* Noise: around each page's timed requests, the CPU the whole machine spent
  (/proc/stat) minus that of this process, webmon, luigid and (on
  PostgreSQL) the postmaster's tree is what other processes took; above 10 %
  of the wall time (and above 0.05 s: /proc/stat counts 10 ms ticks) the
  page's figures are flagged NOISY. Every page is
  measured in each of ``--rounds`` rounds (pages interleaved) and the round
  with the least such CPU per wall second is reported; all rounds go to JSON.
* luigid: for each of its ``/history`` and ``/history/by_name/<family>`` pages (a small family, ExportFeed,
  and a big one, ParsePages, the family the tasks list is measured with) a fresh luigid
  (``record_task_history = true``, ``[task_history] db_connection`` = the same
  DB) gets one request (``--luigid-repeat``) with a ``--luigid-timeout`` (120 s);
  its time, status, bytes, CPU and peak RSS (process tree, sampled every
  20 ms) are recorded. Past the timeout, or past ``--luigid-max-rss-gb``
  (other people share this machine), luigid is killed and the row says so.
* Target: p95 <= 100 ms for every webmon page, on both databases.
* ``--unprepared`` drops the indexes ``manage.py prepare_history`` adds to
  Luigi's tables (a copy of the SQLite DB; in the PostgreSQL database) and
  measures without them: a history as stock luigid leaves it.
* ``--proposed-index`` adds an index the schema lacks, ``crawl_runs (family,
  started_at, status, finished_at)``, to a copy of the SQLite DB / the scratch
  PostgreSQL DB and measures with it (results: ``var/bench/webmon-proposed-index.json``).

Results also go to ``var/bench/webmon-luigi.json`` (``--history luigi``) or ``var/bench/webmon.json``. Exit status 1 when the bench
broke (a page failed, a server did not start); a missed target prints FAIL
and exits 0.
"""

from __future__ import annotations

import argparse
import html
import json
import math
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(REPO / "bench" / "crawl_vs_scrapy")]

import requests  # noqa: E402
import seed as seeding  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from harness import (  # noqa: E402
    BenchError,
    _stop,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    machine_info,
    wait_http,
)
from measure import TreeSampler, postmaster_pid, tree_cpu_seconds  # noqa: E402

RESULTS = REPO / "var" / "bench" / "webmon.json"
RESULTS_PROPOSED = REPO / "var" / "bench" / "webmon-proposed-index.json"
CACHE = REPO / "var" / "bench"
PG_ADMIN = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PASSWORD = "bench-only-password-42"
TARGET_P95_MS = 100.0
NOISE = 0.10
MIN_NOISE_S = 0.05
MB = 1024 * 1024
PYTHON = sys.executable


def say(text: str) -> None:
    print(text, flush=True)


# -- processes ---------------------------------------------------------------------------


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "CRAWL_", "WEBMON_", "DJANGO_"))}
    env["TZ"] = "UTC"  # luigid writes and reads naive local times
    env["PYTHONPATH"] = str(REPO)
    return env


def luigid_cfg(home: Path, port: int, history_url: str) -> Path:
    cfg = home / f"luigid-{port}.cfg"
    cfg.write_text(
        f"[core]\nscheduler_host = 127.0.0.1\nscheduler_port = {port}\n\n"
        f"[scheduler]\nrecord_task_history = true\nstate_path = {home}/state-{port}.pickle\n\n"
        f"[task_history]\ndb_connection = {history_url}\n"
    )
    return cfg


@contextmanager
def luigid(home: Path, history_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str, Path]]:
    """A luigid recording task history into `history_url`; its cwd holds no other luigi.cfg."""
    port = free_port()
    cfg = luigid_cfg(home, port, history_url)
    log = home / f"luigid-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [PYTHON, "-c", "import luigi.cmdline; luigi.cmdline.luigid()", "--address", "127.0.0.1", "--port",
             str(port)],
            cwd=home, env={**base_env(), "LUIGI_CONFIG_PATH": str(cfg)}, stdin=subprocess.DEVNULL, stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/api/task_list", proc, log)
        yield proc, url, cfg
    finally:
        _stop(proc)


@contextmanager
def webmon(home: Path, cfg: Path, luigid_url: str) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    env = {
        **base_env(),
        "DEBUG": "false",
        # Plain HTTP on loopback: the production profile's TLS defaults would redirect to https://.
        "SECURE_SSL_REDIRECT": "false",
        "WEBMON_SECURE_COOKIES": "false",
        "SECURE_HSTS_SECONDS": "0",
        "WEBMON_CACHE": "locmem",  # one process: no cache table needed for the login limiter
        "SECRET_KEY": "bench-only-" + uuid.uuid4().hex,
        "DATABASE_URL": f"sqlite:///{home / 'webmon.db'}",
        "LUIGI_CONFIG_PATH": str(cfg),
        "LUIGID_URL": luigid_url,
        "WEBMON_ADMIN_PASSWORD": PASSWORD,
    }
    manage = [PYTHON, str(REPO / "manage.py")]
    for args in (["migrate", "--noinput", "-v", "0"], ["ensure_admin"]):
        done = subprocess.run([*manage, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise BenchError(f"manage.py {args[0]} failed: {done.stderr[-2000:]}")
    port = free_port()
    log = home / "webmon.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [*manage, "runserver", "--noreload", "--skip-checks", f"127.0.0.1:{port}"],
            cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/login/", proc, log)
        yield proc, url
    finally:
        _stop(proc)


# -- the history DBs ---------------------------------------------------------------------------

# Not in the schema (pipelines/runs/models.py): what --proposed-index adds, to measure it.
PROPOSED_INDEX = (
    "CREATE INDEX IF NOT EXISTS ix_crawl_runs_family_window ON crawl_runs (family, started_at, status, finished_at)"
)


def add_proposed_index(history: History) -> History:
    """The index on a copy of the cached SQLite DB, or in the scratch PostgreSQL DB (then VACUUM ANALYZE)."""
    started = time.monotonic()
    if history.db == "sqlite":
        source = Path(history.url.removeprefix("sqlite:///"))
        target = source.with_name(source.stem + "-proposed-index.db")
        if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            shutil.copyfile(source, target)
            db = sqlite3.connect(target, isolation_level=None)
            db.execute(PROPOSED_INDEX)
            db.execute("ANALYZE")
            db.close()
        history.url = f"sqlite:///{target}"
    else:
        engine = sa.create_engine(history.url, future=True, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(sa.text(PROPOSED_INDEX))
            conn.execute(sa.text("VACUUM ANALYZE crawl_runs"))
        engine.dispose()
    history.note += f"; with the proposed index ix_crawl_runs_family_window ({time.monotonic() - started:.0f} s)"
    say(f"{history.db}: {PROPOSED_INDEX}")
    return history


def without_prepared_indexes(history: History) -> History:
    """The history as stock luigid leaves it, without prepare_history's indexes on Luigi's tables.

    SQLite: a copy of the cached DB with them dropped (then ANALYZE). PostgreSQL: dropped
    in the scratch database (restore_prepared_indexes() puts them back in a kept one).
    """
    from webmon.history.prepare import LUIGI_INDEXES

    drops = [f"DROP INDEX IF EXISTS {ix.name}" for ix in LUIGI_INDEXES]
    if history.db == "sqlite":
        source = Path(history.url.removeprefix("sqlite:///"))
        target = source.with_name(source.stem + "-unprepared.db")
        if not target.exists() or target.stat().st_mtime < source.stat().st_mtime:
            shutil.copyfile(source, target)
            db = sqlite3.connect(target, isolation_level=None)
            for sql in drops:
                db.execute(sql)
            db.execute("ANALYZE")
            db.close()
        history.url = f"sqlite:///{target}"
    else:
        engine = sa.create_engine(history.url, future=True, isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            for sql in drops:
                conn.execute(sa.text(sql))
        engine.dispose()
    history.note += "; without prepare_history's indexes on Luigi's tables"
    say(f"{history.db}: dropped {', '.join(ix.name for ix in LUIGI_INDEXES)}")
    return history


def restore_prepared_indexes(history: History) -> None:
    """prepare_history's indexes back into a kept PostgreSQL database (only those: no run tables)."""
    from webmon.history.prepare import LUIGI_INDEXES

    engine = sa.create_engine(history.url, future=True)
    with engine.begin() as conn:
        for ix in LUIGI_INDEXES:
            ix.create(conn, checkfirst=True)
        conn.execute(sa.text("ANALYZE tasks"))
        conn.execute(sa.text("ANALYZE task_events"))
    engine.dispose()
    say(f"{history.db}: restored {', '.join(ix.name for ix in LUIGI_INDEXES)}")


@dataclass
class History:
    db: str  # sqlite or postgres
    url: str
    version: str
    seeded_at: str
    seed_seconds: float | None  # None: reused from the cache
    counts: dict[str, int]
    note: str = ""


def sqlite_history(rows: int, reseed: bool, max_age_h: float, luigi_only: bool) -> History:
    path = CACHE / (f"webmon-luigi-history-{rows}.db" if luigi_only else f"webmon-history-{rows}.db")
    meta_path = path.with_suffix(".json")
    version = f"SQLite {sqlite3.sqlite_version}"
    if path.exists() and meta_path.exists() and not reseed:
        meta = json.loads(meta_path.read_text())
        age_h = (time.time() - meta["seeded_unix"]) / 3600
        if age_h <= max_age_h:
            say(f"sqlite: reusing {path.relative_to(REPO)} (seeded {age_h:.1f} h ago in {meta['seed_seconds']:.0f} s)")
            return History("sqlite", f"sqlite:///{path}", version, meta["seeded_at"], None, meta["counts"],
                           f"cached, seeded {age_h:.1f} h before the run in {meta['seed_seconds']:.0f} s")
        say(f"sqlite: {path.relative_to(REPO)} is {age_h:.1f} h old (> {max_age_h} h): seeding again")
    CACHE.mkdir(parents=True, exist_ok=True)
    for stale in (path, meta_path):
        stale.unlink(missing_ok=True)
    tmp = path.with_suffix(".loading")
    tmp.unlink(missing_ok=True)
    end = seeding.seed_now()
    say(f"sqlite: seeding {rows:,} task records into {path.relative_to(REPO)} ...")
    started = time.monotonic()
    counts = seeding.load_sqlite(str(tmp), seeding.Plan(rows, end), lambda s: say(f"sqlite:{s}"), luigi_only)
    seconds = time.monotonic() - started
    tmp.rename(path)
    seeded_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    meta_path.write_text(json.dumps({"rows": rows, "seeded_at": seeded_at, "seeded_unix": time.time(),
                                     "seed_seconds": round(seconds, 1), "counts": counts, "end": str(end)}))
    say(f"sqlite: seeded in {seconds:.0f} s: {counts}")
    return History("sqlite", f"sqlite:///{path}", version, seeded_at, round(seconds, 1), counts,
                   f"seeded in {seconds:.0f} s, {path.stat().st_size / MB:,.0f} MB")


@contextmanager
def postgres_history(rows: int, keep: bool, luigi_only: bool) -> Iterator[History]:
    import psycopg2

    admin = psycopg2.connect(PG_ADMIN, connect_timeout=5)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute("SHOW server_version")
        version = f"PostgreSQL {cur.fetchone()[0]}"
    kind = "luigi_" if luigi_only else ""
    name = f"webmon_bench_{kind}{rows}" if keep else f"webmon_bench_{kind}{uuid.uuid4().hex[:8]}"
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    url = f"{base}/{name}"
    try:
        with admin.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
            exists = cur.fetchone() is not None
        if exists and keep:
            engine = sa.create_engine(url, future=True)
            with engine.connect() as conn:
                tables = [t for t, _, _ in seeding.tables_of(luigi_only)]
                counts = {t.name: int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {t.name}")).scalar_one())
                          for t in tables}
            engine.dispose()
            say(f"postgres: reusing database {name}: {counts}")
            yield History("postgres", url, version, "", None, counts, f"kept database {name}")
            return
        with admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"')
        say(f"postgres: seeding {rows:,} task records into database {name} ...")
        started = time.monotonic()
        counts = seeding.load_postgres(url, seeding.Plan(rows, seeding.seed_now()), lambda s: say(f"postgres:{s}"),
                                       luigi_only)
        seconds = time.monotonic() - started
        say(f"postgres: seeded in {seconds:.0f} s: {counts}")
        yield History("postgres", url, version, datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
                      round(seconds, 1), counts, f"seeded in {seconds:.0f} s (COPY, indexes, VACUUM ANALYZE)")
    finally:
        if not keep:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# -- measuring webmon ------------------------------------------------------------------------


@dataclass
class Page:
    name: str
    path: str
    ok: tuple[int, ...] = (200,)


@dataclass
class Sample:
    round: int
    client_ms: list[float]
    server_ms: list[float]
    wall_s: float
    others_cpu_s: float
    bytes: int

    @property
    def noise(self) -> float:
        return self.others_cpu_s / self.wall_s if self.wall_s else 0.0

    @property
    def noisy(self) -> bool:
        # /proc/stat counts in clock ticks (10 ms): below MIN_NOISE_S a difference is rounding.
        return self.noise > NOISE and self.others_cpu_s > MIN_NOISE_S


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


@dataclass
class PageResult:
    name: str
    path: str
    median_ms: float
    p95_ms: float
    server_median_ms: float | None
    bytes: int
    round: int
    others_cpu_s: float
    noisy: bool
    rounds: list[dict[str, Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return self.p95_ms <= TARGET_P95_MS


def log_in(url: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{url}/login/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text)
    if form.status_code != 200 or token is None:
        raise BenchError(f"no login form at {url}/login/ ({form.status_code})")
    answer = session.post(
        f"{url}/login/",
        data={"csrfmiddlewaretoken": token.group(1), "username": "admin", "password": PASSWORD, "next": "/"},
        allow_redirects=False, timeout=60,
    )
    if answer.status_code != 302 or "sessionid" not in session.cookies:
        raise BenchError(f"logging in failed: {answer.status_code}")
    return session


def older_link(session: requests.Session, url: str, anchor: str) -> str:
    first = session.get(url, timeout=60)
    older = re.search(rf'id="{anchor}" href="\?([^"]+)"', first.text)
    if older is None:
        raise BenchError(f"{url} has no Older link")
    return "?" + html.unescape(older.group(1))


def task_targets(session: requests.Session, url: str, history_url: str) -> list[Page]:
    """The pages of Luigi's tasks; the task looked at is the newest FAILED one."""
    engine = sa.create_engine(history_url, future=True)
    with engine.connect() as conn:
        failed = conn.execute(sa.text(
            "SELECT t.id, t.task_id FROM tasks t WHERE t.id ="
            " (SELECT MAX(e.task_id) FROM task_events e WHERE e.event_name = 'FAILED')"
        )).one()
    engine.dispose()
    return [
        Page("tasks list", "/tasks/"),
        Page("tasks, family=ParsePages (index)", "/tasks/?family=ParsePages"),
        Page("tasks, host=worker-3 (index)", "/tasks/?host=worker-3"),
        Page("tasks, status=FAILED (scan window)", "/tasks/?status=FAILED"),
        Page("tasks, param crawl=shop (scan window)", "/tasks/?param=crawl&value=shop"),
        Page("tasks, one task_id", "/tasks/?" + urlencode({"task": failed.task_id})),
        Page("tasks page 2 (Older)", "/tasks/" + older_link(session, f"{url}/tasks/", "tasks-older")),
        Page("task detail (failed)", f"/tasks/{failed.id}/"),
    ]


def targets(session: requests.Session, url: str, history_url: str, luigi_only: bool) -> list[Page]:
    """The pages to measure; the run ids and the "older" link are looked up, not guessed."""
    tasks = task_targets(session, url, history_url)
    if luigi_only:
        # No run records: these pages say so (and the overview shows Luigi's newest tasks).
        return [Page("overview", "/"), Page("runs list", "/runs/"), Page("crawl detail", "/crawl/?name=shop"),
                Page("families", "/families/"), *tasks, Page("/healthz", "/healthz")]
    engine = sa.create_engine(history_url, future=True)
    with engine.connect() as conn:
        failed = conn.execute(sa.text(
            "SELECT id, log_lines FROM crawl_runs WHERE status = 'failed' AND log_lines > 0 "
            "AND family IN ('FetchPages', 'ParsePages', 'StoreItems') ORDER BY started_at DESC LIMIT 1"
        )).one()
    engine.dispose()
    first = session.get(f"{url}/runs/", timeout=60)
    older = re.search(r'id="page-older" href="\?([^"]+)"', first.text)
    if older is None:
        raise BenchError("the runs list has no Older link")
    run_id = failed.id
    return [
        Page("overview", "/"),
        Page("runs list", "/runs/"),
        Page("runs, status=failed (scan)", "/runs/?status=failed"),
        Page("runs, crawl+family (index)", "/runs/?crawl=shop&family=ParsePages"),
        Page("runs page 2 (Older)", "/runs/?" + html.unescape(older.group(1))),
        Page("run detail (failed, 200-line log)", f"/runs/{run_id}/"),
        Page("log.json?after=100", f"/runs/{run_id}/log.json?after=100"),
        Page("log.txt (200 lines)", f"/runs/{run_id}/log.txt"),
        Page("crawl detail", "/crawl/?name=shop"),
        Page("families", "/families/"),
        *tasks,
        Page("/healthz", "/healthz"),
    ]


def timed_get(session: requests.Session, url: str, page: Page) -> tuple[float, float | None, int]:
    started = time.perf_counter()
    answer = session.get(url, timeout=120, allow_redirects=False)
    body = answer.content  # the whole body, streamed responses included
    elapsed = (time.perf_counter() - started) * 1000
    if answer.status_code not in page.ok:
        raise BenchError(f"{page.path}: HTTP {answer.status_code}: {answer.text[:500]}")
    if b'id="banner-history"' in body or ("log.json" in page.path and b'"error"' in body[:200]):
        raise BenchError(f"{page.path}: the history DB could not be read: {answer.text[:1000]}")
    server = answer.headers.get("X-Page-Duration-ms")
    return elapsed, float(server) if server else None, len(body)


def measure_page(session: requests.Session, url: str, page: Page, warmup: int, repeat: int, rnd: int,
                 tracked: Callable[[], float]) -> Sample:
    for _ in range(warmup):
        timed_get(session, url + page.path, page)
    busy, mine, theirs = machine_busy_seconds(), cpu_seconds(os.getpid()), tracked()
    started = time.monotonic()
    client, server, size = [], [], 0
    for _ in range(repeat):
        ms, server_ms, size = timed_get(session, url + page.path, page)
        client.append(ms)
        if server_ms is not None:
            server.append(server_ms)
    wall = time.monotonic() - started
    others = machine_busy_seconds() - busy - (cpu_seconds(os.getpid()) - mine) - (tracked() - theirs)
    return Sample(rnd, client, server, wall, max(0.0, others), size)


def measure_webmon(history: History, args: argparse.Namespace, home: Path) -> tuple[list[PageResult], dict]:
    pg_root = postmaster_pid() if history.db == "postgres" else None
    with luigid(home, history.url) as (lproc, lurl, cfg), webmon(home, cfg, lurl) as (wproc, wurl):
        sampler = TreeSampler(wproc.pid).start()
        try:
            session = log_in(wurl)
            pages = targets(session, wurl, history.url, args.history == "luigi")

            def tracked() -> float:
                return cpu_seconds(wproc.pid) + cpu_seconds(lproc.pid) + tree_cpu_seconds(pg_root)

            samples: dict[str, list[Sample]] = {p.name: [] for p in pages}
            for rnd in range(1, args.rounds + 1):
                for page in pages:
                    sample = measure_page(session, wurl, page, args.warmup, args.repeat, rnd, tracked)
                    samples[page.name].append(sample)
                    say(f"{history.db}: round {rnd} {page.name:36} median {statistics.median(sample.client_ms):7.1f} ms"
                        f"  p95 {p95(sample.client_ms):7.1f} ms  others {sample.others_cpu_s:.2f} CPU s"
                        + ("  NOISY" if sample.noisy else ""))
        finally:
            sampler.stop()
    results = []
    for page in pages:
        best = min(samples[page.name], key=lambda s: s.noise)
        results.append(PageResult(
            page.name, page.path, round(statistics.median(best.client_ms), 1), round(p95(best.client_ms), 1),
            round(statistics.median(best.server_ms), 1) if best.server_ms else None, best.bytes, best.round,
            round(best.others_cpu_s, 2), best.noisy,
            [{"round": s.round, "median_ms": round(statistics.median(s.client_ms), 1),
              "p95_ms": round(p95(s.client_ms), 1), "others_cpu_s": round(s.others_cpu_s, 2),
              "wall_s": round(s.wall_s, 2), "client_ms": [round(v, 1) for v in s.client_ms]}
             for s in samples[page.name]],
        ))
    return results, {"webmon_peak_rss_mb": round(sampler.peak / MB, 1)}


# -- measuring luigid -----------------------------------------------------------------------------


@dataclass
class LuigidResult:
    path: str
    outcome: str  # "ok", "timeout", "killed: RSS", "error"
    seconds: float
    status: int | None
    bytes: int
    cpu_s: float
    peak_rss_mb: float
    others_cpu_s: float

    def shown(self, timeout: float, max_rss_gb: float) -> str:
        if self.outcome == "timeout":
            return f"timeout > {timeout:.0f} s"
        if self.outcome == "rss":
            return f"killed at > {max_rss_gb:g} GB RSS after {self.seconds:.1f} s"
        if self.outcome != "ok":
            return self.outcome
        return f"{self.seconds * 1000:,.0f} ms"


def measure_luigid_page(history: History, path: str, args: argparse.Namespace, home: Path) -> LuigidResult:
    pg_root = postmaster_pid() if history.db == "postgres" else None
    with luigid(home, history.url) as (proc, url, _):
        time.sleep(0.5)  # let luigid settle after start-up (state file, history engine)
        sampler = TreeSampler(proc.pid).start()
        box: dict[str, Any] = {}

        def fetch() -> None:
            try:
                answer = requests.get(url + path, timeout=(5, args.luigid_timeout + 5))
                box["status"], box["bytes"] = answer.status_code, len(answer.content)
            except requests.RequestException as exc:
                box["error"] = type(exc).__name__
            box["done"] = time.monotonic()

        busy, mine, cpu0, pg0 = machine_busy_seconds(), cpu_seconds(os.getpid()), cpu_seconds(proc.pid), tree_cpu_seconds(pg_root)
        started = time.monotonic()
        thread = threading.Thread(target=fetch, daemon=True)
        thread.start()
        outcome = "ok"
        while thread.is_alive():
            thread.join(0.1)
            if sampler.peak > args.luigid_max_rss_gb * 1024 * MB:
                outcome = "rss"
            elif time.monotonic() - started > args.luigid_timeout:
                outcome = "timeout"
            else:
                continue
            break
        seconds = box.get("done", time.monotonic()) - started
        cpu = cpu_seconds(proc.pid) - cpu0
        pg = tree_cpu_seconds(pg_root) - pg0
        others = machine_busy_seconds() - busy - (cpu_seconds(os.getpid()) - mine) - cpu - pg
        if outcome != "ok":
            proc.kill()
            proc.wait()
        elif "error" in box:
            outcome = f"error: {box['error']}"
        sampler.stop()
    return LuigidResult(path, outcome, round(seconds, 2), box.get("status"), box.get("bytes", 0), round(cpu + pg, 1),
                        round(sampler.peak / MB, 1), round(max(0.0, others), 1))


# -- report -------------------------------------------------------------------------------------


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    line = lambda cells: "  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths, strict=True)))  # noqa: E731
    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def report(db: dict[str, Any], args: argparse.Namespace) -> None:
    h = db["history"]
    c = h["counts"]
    ours = (f"{c['crawl_runs']:,} run records, {c['crawl_run_logs']:,} log lines" if "crawl_runs" in c
            else "no run tables of ours")
    say(f"\n== {h['db']}: {h['version']}; {c['tasks']:,} task records, {c['task_events']:,} events, "
        f"{c['task_parameters']:,} parameters, {ours}; {h['note']}")
    rows = [[p["name"], f"{p['median_ms']:.1f}", f"{p['p95_ms']:.1f}",
             f"{p['server_median_ms']:.1f}" if p["server_median_ms"] is not None else "-",
             f"<= {TARGET_P95_MS:.0f}", "PASS" if p["p95_ms"] <= TARGET_P95_MS else "FAIL",
             f"{p['others_cpu_s']:.2f}" + (" NOISY" if p["noisy"] else "")] for p in db["pages"]]
    say(table(["webmon page", "median ms", "p95 ms", "server median ms", "target p95", "", "others CPU s"], rows))
    say(f"webmon peak RSS {db['webmon_peak_rss_mb']:.0f} MB")
    if not db["luigid"]:
        return
    rows = [[f"luigid {r['path']}", LuigidResult(**r).shown(args.luigid_timeout, args.luigid_max_rss_gb),
             str(r["status"] or "-"), f"{r['bytes'] / MB:,.1f}", f"{r['cpu_s']:.1f}", f"{r['peak_rss_mb']:,.0f}"]
            for r in db["luigid"]]
    say(table(["luigid's own page", "time", "HTTP", "MB", "CPU s", "peak RSS MB"], rows))


def side_by_side(out: dict[str, Any], args: argparse.Namespace) -> None:
    """One table: every page, each database's median / p95 next to the other's; luigid's pages last."""
    dbs = out["databases"]
    headers = ["page"] + [f"{d['history']['db']} {col}" for d in dbs for col in ("median ms", "p95 ms", "")]
    rows = []
    for i, page in enumerate(dbs[0]["pages"]):
        row = [page["name"]]
        for d in dbs:
            p = d["pages"][i]
            row += [f"{p['median_ms']:.1f}", f"{p['p95_ms']:.1f}", "PASS" if p["p95_ms"] <= TARGET_P95_MS else "FAIL"]
        rows.append(row)
    for j, path in enumerate(r["path"] for r in dbs[0]["luigid"]):
        row = [f"luigid {path}"]
        for d in dbs:
            r = LuigidResult(**d["luigid"][j])
            row += [r.shown(args.luigid_timeout, args.luigid_max_rss_gb), f"{r.peak_rss_mb:,.0f} MB RSS", ""]
        rows.append(row)
    say(f"\n== side by side (target: p95 <= {TARGET_P95_MS:.0f} ms for every webmon page)")
    say(table(headers, rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="task records (and run records)")
    parser.add_argument("--history", choices=("luigi", "both"), default="luigi",
                        help="luigi: Luigi's tables only (a stock luigid's history); both: our run records too")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--repeat", type=int, default=20, help="timed requests per page and round")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="rounds of every page; the least disturbed is reported")
    parser.add_argument("--reseed", action="store_true", help="seed the SQLite DB again even if cached")
    parser.add_argument("--max-age-hours", type=float, default=12.0, help="reuse a cached SQLite DB this young")
    parser.add_argument("--keep-pg", action="store_true", help="keep (and reuse) the PostgreSQL database")
    parser.add_argument("--luigid-timeout", type=float, default=120.0)
    parser.add_argument("--luigid-max-rss-gb", type=float, default=10.0)
    parser.add_argument("--luigid-repeat", type=int, default=1)
    parser.add_argument("--skip-luigid", action="store_true")
    parser.add_argument("--proposed-index", action="store_true",
                        help="add the index webmon's families page needs (not in the schema yet) and measure with it")
    parser.add_argument("--unprepared", action="store_true",
                        help="measure without the indexes manage.py prepare_history adds to Luigi's tables")
    args = parser.parse_args()

    info = machine_info()
    out: dict[str, Any] = {"machine": info, "args": vars(args), "target_p95_ms": TARGET_P95_MS, "databases": []}
    say(f"machine: {info}")
    dbs = ["sqlite", "postgres"] if args.db == "both" else [args.db]
    home = Path(tempfile.mkdtemp(prefix="webmon-bench-"))
    try:
        for db in dbs:
            luigi_only = args.history == "luigi"
            with (postgres_history(args.rows, args.keep_pg, luigi_only) if db == "postgres"
                  else _nullcontext(sqlite_history(args.rows, args.reseed, args.max_age_hours, luigi_only))) as history:
                if args.proposed_index:
                    history = add_proposed_index(history)
                if args.unprepared:
                    history = without_prepared_indexes(history)
                say(f"{db}: measuring webmon's pages ...")
                try:
                    pages, extra = measure_webmon(history, args, home)
                finally:
                    if args.unprepared and db == "postgres" and args.keep_pg:
                        restore_prepared_indexes(history)
                luigid_results = []
                if not args.skip_luigid:
                    for path in ("/history", "/history/by_name/ExportFeed", "/history/by_name/ParsePages"):
                        for _ in range(args.luigid_repeat):
                            say(f"{db}: luigid {path} (timeout {args.luigid_timeout:.0f} s) ...")
                            result = measure_luigid_page(history, path, args, home)
                            say(f"{db}: luigid {path}: {result.shown(args.luigid_timeout, args.luigid_max_rss_gb)},"
                                f" peak RSS {result.peak_rss_mb:,.0f} MB")
                            luigid_results.append(result)
                entry = {"history": asdict(history), "pages": [asdict(p) for p in pages], **extra,
                         "luigid": [asdict(r) for r in luigid_results]}
                entry["history"]["url"] = entry["history"]["url"].split("@")[-1]
                out["databases"].append(entry)
                report(entry, args)
    except BenchError as exc:
        say(f"BENCH BROKE: {exc}")
        return 1
    finally:
        shutil.rmtree(home, ignore_errors=True)
    if len(out["databases"]) > 1:
        side_by_side(out, args)
    out["finished"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    results = (RESULTS_PROPOSED if args.proposed_index
               else RESULTS.with_name("webmon-luigi-unprepared.json") if args.unprepared
               else RESULTS.with_name("webmon-luigi.json") if args.history == "luigi" else RESULTS)
    results.parent.mkdir(parents=True, exist_ok=True)
    results.write_text(json.dumps(out, indent=2))
    failed = [(d["history"]["db"], p["name"]) for d in out["databases"] for p in d["pages"] if p["p95_ms"] > TARGET_P95_MS]
    noisy = [(d["history"]["db"], p["name"]) for d in out["databases"] for p in d["pages"] if p["noisy"]]
    say(f"\nresults: {results.relative_to(REPO)}")
    if noisy:
        say(f"NOISY (other processes took > {NOISE:.0%} of a page's wall time): {noisy}; re-run")
    say("all webmon pages within the target" if not failed else f"missed the target: {failed}")
    return 0


@contextmanager
def _nullcontext(value: Any) -> Iterator[Any]:
    yield value


if __name__ == "__main__":
    sys.exit(main())
