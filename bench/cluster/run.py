"""Throughput of 1, 2 and 4 worker hosts on many small crawls of a latency-bound site.

Usage (from the repository root, as root: the hosts are network namespaces)::

    .venv/bin/python bench/cluster/run.py [--hosts 1,2,4] [--crawls 32] [--products 40] [--slots 2]
                                          [--latency-ms 50] [--concurrency 1] [--repeat 1] [--keep]

Method
------
* The cluster is the one tests/cluster builds (its helpers are imported, not
  copied): a bridge with one network namespace per worker host (own address,
  own hostname, no route out), a throwaway PostgreSQL on the bridge address
  holding the history, items and webmon DBs, one luigid and the demo site
  (``--products`` products, every response held ``--latency-ms``) on the
  bridge address too. Every host runs ``manage.py trigger --slots S`` on the
  one webmon DB, as docs/operations.md "Several worker hosts" deploys it.
* One cluster of max(--hosts) namespaces; a round with k hosts starts the
  daemons of the first k hosts (their start-up is not timed: the round waits
  for every daemon's first heartbeat), times its crawls and stops them.
  Every round has crawls of its own (fresh names, tick 2026-12-03T07:00), so
  no round finds another's outputs. A warm-up tick on one host, not counted,
  comes first (it creates the items tables and warms the page cache).
* A round queues ``--crawls`` runs at once: a disabled schedule per crawl and
  a manual ScheduledRun each, as tests/cluster/test_cluster_daemons.py does,
  made in advance with ``not_before`` far ahead; the round starts when one
  UPDATE clears ``not_before`` of them all (the rows are then what Run now
  makes). Each crawl is demo.toml pointed at the site with ``[fetch]
  concurrency`` = ``--concurrency`` (default 1: one request at a time to the
  site, the polite setting, so a tick's fetch is ~requests x latency, i.e.
  latency-bound; the site takes any number of connections at once, the
  latency is a timer, not a queue) and every other setting as shipped.
* Wall: from that UPDATE to the last run's ``finished_at`` (the reaping
  daemon's clock, the same host clock). Pages: HTTP responses of the crawls
  (each tick's fetch/stats.json). Mean tick: ``finished_at - started_at`` of
  each run (daemon claim to reap: process start, the three tasks, exit).
* CPU: the machine's busy time (/proc/stat, all CPUs) over the round, and the
  part of it our stack used: the daemons with every crawl they reaped
  (rusage of waited-for children: the luigi workers and their page-work
  processes), luigid, PostgreSQL (postmaster and its reaped backends), the
  demo site and this process. "others" is the rest: other jobs on the machine.
* Latency-bound ideal: slots total x 60 / (the 1-host round's mean tick):
  what k hosts would do if each slot only waited on the site, as it does on
  1 host where the CPU has room. CPU ceiling: cores / (our CPU s per tick).
* Nothing lost: every run must end ``success`` in its first attempt with no
  host loss, claimed by a daemon of the round's hosts; every crawl must have
  stored every product once (``crawl_items`` count and distinct keys equal
  the products) and one marker for the tick; its fetch must have no failed
  request; FetchPages must be ``done`` once, on the host that claimed it.
  Any miss exits 1 after the table: a bench that loses data is no result.

Results also go to ``var/bench/cluster.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path[:0] = [str(REPO), str(HERE.parent / "crawl_vs_scrapy")]

import psycopg2  # noqa: E402
import sqlalchemy as sa  # noqa: E402
from harness import code_label, machine_busy_seconds, machine_info  # noqa: E402
from measure import tree_cpu_seconds  # noqa: E402

from tests.cluster.daemons import ClusterWebmon  # noqa: E402
from tests.cluster.netns import Cluster, build_cluster, netns_missing  # noqa: E402
from tests.cluster.services import (  # noqa: E402
    ClusterLuigid,
    ThrowawayPostgres,
    make_cluster_luigid,
    postgres_missing,
    start_demo_site_on,
)
from tests.conftest import DemoSite, stop  # noqa: E402

RESULTS = REPO / "var" / "bench" / "cluster.json"
TICK = datetime(2026, 12, 3, 7, 0, tzinfo=UTC)
TICK_DIR = "20261203T0700Z"
HOLD = datetime(2100, 1, 1, tzinfo=UTC)  # not_before of a run made in advance: no daemon takes it
ROUND_TIMEOUT = 900.0
CPU_FULL = 90  # machine busy % from which a round counts as limited by the CPU


class BenchError(RuntimeError):
    pass


@dataclass
class Round:
    hosts: int
    slots_total: int
    ticks: int
    wall_s: float
    pages: int
    mean_tick_s: float
    mean_fetch_s: float
    phases_s: dict[str, float]  # mean per tick: start-up, tasks, exit+reap (they add up to mean_tick_s)
    busy_cpu_s: float       # the whole machine, all CPUs
    ours_cpu_s: float       # our stack (see the module doc)
    parts_cpu_s: dict[str, float]
    runs_per_host: dict[str, int]
    load_before: float
    problems: list[str] = field(default_factory=list)

    @property
    def ticks_per_min(self) -> float:
        return 60 * self.ticks / self.wall_s

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s

    def busy_pct(self, ncpu: int) -> float:
        return 100 * self.busy_cpu_s / (self.wall_s * ncpu)

    def ours_pct(self, ncpu: int) -> float:
        return 100 * self.ours_cpu_s / (self.wall_s * ncpu)

    @property
    def cpu_per_tick(self) -> float:
        return self.ours_cpu_s / self.ticks


# -- the cluster ---------------------------------------------------------------
@dataclass
class Stack:
    cluster: Cluster
    pg: ThrowawayPostgres
    luigid: ClusterLuigid
    site: DemoSite
    webmon: ClusterWebmon
    webmon_dsn: dict[str, Any]

    def db(self) -> Any:
        conn = psycopg2.connect(**self.webmon_dsn)
        conn.autocommit = True
        return conn

    def postmaster_pid(self) -> int | None:
        assert self.pg.root is not None
        try:
            return int((self.pg.root / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None


def host_names(n: int) -> list[str]:
    return [f"host-{c}" for c in string.ascii_lowercase[:n]]


def start_stack(hosts: int, products: int, latency_ms: int, home: Path) -> Stack:
    cluster = build_cluster(host_names(hosts))
    try:
        pg = ThrowawayPostgres(cluster.gateway, cluster.subnet)
        pg.start()
        luigid = make_cluster_luigid(home / "luigid", cluster.gateway, pg.create_database("history"),
                                     pg.create_database("items"))
        luigid.start()
        site = start_demo_site_on(cluster.gateway, products, latency_ms=latency_ms)
        (home / "webmon").mkdir()
        webmon = ClusterWebmon(luigid, pg.create_database("webmon"), home / "webmon")
        webmon.migrate()
    except BaseException:
        cluster.teardown()
        raise
    dsn = {"host": pg.address, "port": pg.port, "user": "postgres", "dbname": "webmon"}
    return Stack(cluster, pg, luigid, site, webmon, dsn)


def stop_stack(stack: Stack) -> None:
    stack.webmon.stop_daemons()
    stop(stack.site.proc)
    stack.luigid.stop()
    stack.pg.stop()
    stack.cluster.teardown()


# -- one round -------------------------------------------------------------------
def prepare(stack: Stack, crawls: list[str], concurrency: int) -> list[int]:
    """Specs, disabled schedules and one manual run each, held back by not_before."""
    for crawl in crawls:
        stack.luigid.write_spec(crawl, stack.site.url, allowed_domains=[stack.cluster.gateway],
                                concurrency=concurrency)
    return stack.webmon.django(f"""
from datetime import datetime
at, hold = datetime.fromisoformat({TICK.isoformat()!r}), datetime.fromisoformat({HOLD.isoformat()!r})
result = []
for crawl in {crawls!r}:
    s = Schedule.objects.create(name=crawl, crawl=crawl, cron="0 * * * *", enabled=False, start_at=at,
                                retries=0, timeout_seconds={int(ROUND_TIMEOUT)})
    result.append(ScheduledRun.objects.create(schedule=s, logical_time=at, trigger="manual", not_before=hold).pk)
""")  # type: ignore[return-value]


def start_daemons(stack: Stack, hosts: list[str], slots: int) -> None:
    since = datetime.now(UTC)
    for host in hosts:
        stack.webmon.start_daemon(stack.cluster, host, slots)
    deadline = time.monotonic() + 120
    with contextlib.closing(stack.db()) as conn, conn.cursor() as cur:
        while True:
            cur.execute("SELECT name FROM scheduling_daemonheartbeat WHERE beat_at >= %s", (since,))
            beating = {name.rsplit(":", 1)[0] for (name,) in cur.fetchall()}
            if beating >= set(hosts):
                break
            dead = [h for h, p in stack.webmon.daemons.items() if p.poll() is not None]
            if dead or time.monotonic() > deadline:
                logs = "\n".join(f"--- {h}\n{stack.webmon.daemon_log(h)[-2000:]}" for h in hosts)
                raise BenchError(f"daemons not beating (exited: {dead}):\n{logs}")
            time.sleep(0.2)
    time.sleep(1.0)  # past their first rounds: the daemons are idle when the clock starts


def own_and_children_cpu(pid: int) -> tuple[float, float]:
    """(utime + stime, cutime + cstime) of one process: itself, and the children it has waited for."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()
    except OSError:
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick


def our_cpu(stack: Stack) -> dict[str, float]:
    """CPU seconds so far of every part of our stack (a round takes the differences)."""
    own = os.times()
    daemons = [p.pid for p in stack.webmon.daemons.values()]
    daemon_own = sum(own_and_children_cpu(pid)[0] for pid in daemons)
    return {
        # A crawl is a child of its daemon: its CPU (with its page-work process) joins the daemon's
        # cutime when reaped; live crawls count through the tree. At a round's end all are reaped.
        "crawls": sum(tree_cpu_seconds(pid) for pid in daemons) - daemon_own,
        "daemons": daemon_own,
        "luigid": tree_cpu_seconds(stack.luigid.proc.pid if stack.luigid.proc else None),
        "postgresql": tree_cpu_seconds(stack.postmaster_pid()),
        "demo site": tree_cpu_seconds(stack.site.proc.pid),
        "bench": own.user + own.system + own.children_user + own.children_system,
    }


def release_and_wait(stack: Stack, ids: list[int]) -> tuple[float, list[tuple], dict[str, float], float]:
    """Clear not_before of the runs, wait until none is queued or running; (t0, rows, CPU parts, busy s)."""
    cols = "id, state, claimed_by, attempts, host_losses, started_at, finished_at, reason, exit_code, output_path"
    with contextlib.closing(stack.db()) as conn, conn.cursor() as cur:
        cpu0, busy0 = our_cpu(stack), machine_busy_seconds()
        t0 = time.time()
        cur.execute("UPDATE scheduling_scheduledrun SET not_before = NULL WHERE id = ANY(%s)", (ids,))
        while True:
            time.sleep(0.2)
            cur.execute(f"SELECT {cols} FROM scheduling_scheduledrun WHERE id = ANY(%s)", (ids,))
            rows = cur.fetchall()
            if all(r[1] not in ("queued", "running") for r in rows):
                break
            if time.time() - t0 > ROUND_TIMEOUT:
                raise BenchError(f"runs not done within {ROUND_TIMEOUT:.0f} s: "
                                 f"{sorted((r[0], r[1], r[2]) for r in rows if r[1] in ('queued', 'running'))}")
            dead = [h for h, p in stack.webmon.daemons.items() if p.poll() is not None]
            if dead:
                raise BenchError(f"the daemon of {dead} exited mid-round:\n{stack.webmon.daemon_log(dead[0])[-3000:]}")
        cpu1, busy1 = our_cpu(stack), machine_busy_seconds()
    parts = {k: round(cpu1[k] - cpu0[k], 2) for k in cpu0}
    return t0, rows, parts, busy1 - busy0


def verify(stack: Stack, crawls: list[str], rows: list[tuple], hosts: list[str],
           products: int) -> tuple[list[str], dict[str, tuple[datetime, datetime]]]:
    """Every way a round could have lost or doubled work, as sentences (none: all good); and per crawl
    when its FetchPages started and its last task ended (the run records)."""
    problems = []
    claimed: dict[int, str] = {}
    for run_id, state, claimed_by, attempts, losses, _s, _f, reason, code, output in rows:
        host = claimed_by.rsplit(":", 1)[0]
        claimed[run_id] = host
        if state != "success":
            tail = Path(output).read_text(errors="replace")[-1500:] if output and Path(output).exists() else ""
            problems.append(f"run {run_id} {state} (exit {code}): {reason}\n{tail}")
        elif attempts != 1 or losses:
            problems.append(f"run {run_id}: {attempts} attempts, {losses} host losses ({reason})")
        if host not in hosts:
            problems.append(f"run {run_id} claimed by {claimed_by!r}, not a daemon of {hosts}")
    items = sa.create_engine(stack.luigid.items_url)
    history = sa.create_engine(stack.luigid.history_url)
    try:
        with items.connect() as conn:
            stored = {c: (n, d) for c, n, d in conn.execute(sa.text(
                "SELECT crawl, count(*), count(DISTINCT item_key) FROM crawl_items WHERE crawl = ANY(:c)"
                " GROUP BY crawl"), {"c": crawls})}
            marked = {c: (n, i) for c, n, i in conn.execute(sa.text(
                "SELECT crawl, count(*), max(items) FROM crawl_markers WHERE crawl = ANY(:c) GROUP BY crawl"),
                {"c": crawls})}
        with history.connect() as conn:
            fetched_on: dict[str, list[str]] = {}
            for crawl, host in conn.execute(sa.text(
                    "SELECT crawl, host FROM crawl_runs WHERE crawl = ANY(:c) AND family = 'FetchPages'"
                    " AND status = 'done'"), {"c": crawls}):
                fetched_on.setdefault(crawl, []).append(host)
            phases = {c: (f.replace(tzinfo=UTC), e.replace(tzinfo=UTC)) for c, f, e in conn.execute(sa.text(
                "SELECT crawl, min(started_at) FILTER (WHERE family = 'FetchPages'), max(finished_at)"
                " FROM crawl_runs WHERE crawl = ANY(:c) AND status = 'done' GROUP BY crawl"), {"c": crawls})}
            run_of = dict(conn.execute(sa.text(
                "SELECT r.crawl, max(d.scheduled_run) FROM crawl_runs r JOIN crawl_run_deps d ON d.run_id = r.id"
                " WHERE r.crawl = ANY(:c) AND r.family = 'FetchPages' GROUP BY r.crawl"), {"c": crawls}).all())
    finally:
        items.dispose()
        history.dispose()
    for crawl in crawls:
        if stored.get(crawl) != (products, products):
            problems.append(f"{crawl}: items (stored, distinct keys) = {stored.get(crawl)}, expected {products}")
        if marked.get(crawl) != (1, products):
            problems.append(f"{crawl}: markers (count, items) = {marked.get(crawl)}, expected (1, {products})")
        stats = fetch_stats(stack, crawl)
        if stats is None or stats["failed"]:
            problems.append(f"{crawl}: fetch stats {stats and {k: stats[k] for k in ('failed', 'failed_by_reason')}}")
        on = fetched_on.get(crawl, [])
        expected_host = claimed.get(run_of.get(crawl, -1))
        if len(on) != 1 or on[0] != expected_host:
            problems.append(f"{crawl}: FetchPages done on {on}, its run claimed on {expected_host}")
        if crawl not in phases:
            problems.append(f"{crawl}: no run records")
    return problems, phases


def fetch_stats(stack: Stack, crawl: str) -> dict[str, Any] | None:
    path = stack.luigid.data_dir / crawl / TICK_DIR / "fetch" / "stats.json"
    return json.loads(path.read_text()) if path.exists() else None


def run_round(stack: Stack, label: str, k: int, crawls_n: int, slots: int, concurrency: int,
              products: int) -> Round:
    hosts = host_names(k)
    crawls = [f"{label}_{i:02d}" for i in range(crawls_n)]
    ids = prepare(stack, crawls, concurrency)
    load = round(os.getloadavg()[0], 2)
    start_daemons(stack, hosts, slots)
    try:
        t0, rows, parts, busy = release_and_wait(stack, ids)
    finally:
        stack.webmon.stop_daemons()
    problems, phases = verify(stack, crawls, rows, hosts, products)
    wall = max(r[6] for r in rows).timestamp() - t0
    stats = [s for s in (fetch_stats(stack, c) for c in crawls) if s]
    per_host: dict[str, int] = {}
    for r in rows:
        per_host[r[2].rsplit(":", 1)[0]] = per_host.get(r[2].rsplit(":", 1)[0], 0) + 1
    by_id = {r[0]: r for r in rows}
    # Per tick: daemon claim -> FetchPages running (process start-up, luigi scheduling) -> last task done
    # (the three tasks) -> the daemon's reap (process exit, the daemon noticing).
    split = [((phases[c][0] - by_id[i][5]).total_seconds(), (phases[c][1] - phases[c][0]).total_seconds(),
              (by_id[i][6] - phases[c][1]).total_seconds()) for c, i in zip(crawls, ids, strict=True) if c in phases]
    return Round(
        hosts=k, slots_total=k * slots, ticks=len(rows), wall_s=round(wall, 2),
        pages=sum(sum(s["responses_by_status"].values()) for s in stats),
        mean_tick_s=round(statistics.mean((r[6] - r[5]).total_seconds() for r in rows), 2),
        mean_fetch_s=round(statistics.mean(s["elapsed_s"] for s in stats), 2) if stats else 0.0,
        phases_s={name: round(statistics.mean(p[n] for p in split), 2) if split else 0.0
                  for n, name in enumerate(("start-up", "tasks", "exit+reap"))},
        busy_cpu_s=round(busy, 1), ours_cpu_s=round(sum(parts.values()), 1), parts_cpu_s=parts,
        runs_per_host=dict(sorted(per_host.items())), load_before=load, problems=problems,
    )


# -- report ----------------------------------------------------------------------
def print_report(machine: dict[str, Any], args: argparse.Namespace, warmup: Round, rounds: list[Round],
                 pages_per_tick: float) -> None:
    ncpu = machine["nproc"]
    print(f"\nmachine: {ncpu} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, Python "
          f"{machine['python']}, {machine['date']}, load average before {machine['load_avg_1m_before']}; "
          f"code: {machine['code']}")
    print(f"workload per round: {args.crawls} crawls x {args.products} products ({pages_per_tick:.0f} responses a "
          f"tick) of the demo site at {args.latency_ms} ms a response, [fetch] concurrency {args.concurrency}; "
          f"--slots {args.slots} per host")
    floor = (pages_per_tick + 1) * args.latency_ms / 1000 / args.concurrency
    print(f"latency floor of one tick's fetch: ({pages_per_tick:.0f} + robots.txt) x {args.latency_ms} ms / "
          f"{args.concurrency} = {floor:.2f} s, at most {60 / floor:.1f} ticks/min a slot; warm-up tick (not counted): {warmup.mean_tick_s:.2f} s, fetch {warmup.mean_fetch_s:.2f} s,"
          f" {warmup.ours_cpu_s:.1f} CPU s\n")
    base = {r.hosts: r for r in reversed(rounds)}.get(1)  # the first 1-host round
    head = (f"{'hosts':>5} | {'slots total':>11} | {'ticks':>5} | {'wall s':>6} | {'ticks/min':>9} | {'pages/s':>7} | "
            f"{'speed-up vs 1 host':>18} | {'CPU busy %':>10} | {'ours %':>6} | {'others %':>8} | {'mean tick s':>11} | "
            f"{'mean fetch s':>12} | {'ideal ticks/min':>15} | {'CPU ceiling ticks/min':>21} | limit")
    print(head)
    print("-" * len(head))
    for r in rounds:
        speed = f"{r.ticks_per_min / base.ticks_per_min:.2f}" if base else "-"
        ideal = f"{r.slots_total * 60 / base.mean_tick_s:.1f}" if base else "-"
        ceiling = ncpu * 60 / r.cpu_per_tick
        print(f"{r.hosts:>5} | {r.slots_total:>11} | {r.ticks:>5} | {r.wall_s:>6.1f} | {r.ticks_per_min:>9.1f} | "
              f"{r.pages_per_s:>7.1f} | {speed:>18} | {r.busy_pct(ncpu):>10.0f} | {r.ours_pct(ncpu):>6.0f} | "
              f"{r.busy_pct(ncpu) - r.ours_pct(ncpu):>8.0f} | "
              f"{r.mean_tick_s:>11.2f} | {r.mean_fetch_s:>12.2f} | {ideal:>15} | {ceiling:>21.1f} | "
              f"{'CPU' if r.busy_pct(ncpu) >= CPU_FULL else 'slots (site latency)'}")
    print("\nCPU busy %: the whole machine over the round (100 % = all "
          f"{ncpu} CPUs); ours %: the part our stack used; others %: the rest (other jobs on the machine);"
          " ideal: slots x 60 / the 1-host mean tick;"
          " CPU ceiling: cores x 60 / our CPU s per tick; limit: CPU when the machine was at least"
          f" {CPU_FULL} % busy, else the slots, each waiting on the site.")
    print("\nper round: CPU seconds by part (ours) and of the rest of the machine; the mean tick split in three:")
    for r in rounds:
        parts = ", ".join(f"{k} {v:.1f}" for k, v in r.parts_cpu_s.items())
        others = r.busy_cpu_s - r.ours_cpu_s
        phases = ", ".join(f"{k} {v:.2f}" for k, v in r.phases_s.items())
        print(f"  {r.hosts} host(s): {parts}; per tick {r.cpu_per_tick:.2f}; others {others:.1f} "
              f"(load average before {r.load_before}); runs per host {r.runs_per_host}; mean tick = {phases} s")
    bad = [(r, p) for r in [warmup, *rounds] for p in r.problems]
    for r, p in bad[:20]:
        print(f"PROBLEM ({r.hosts} host(s)): {p}")
    if not bad:
        print(f"\nall {sum(r.ticks for r in rounds) + warmup.ticks} runs succeeded first time; every crawl stored its"
              f" {args.products} products once, one marker each, no failed request, FetchPages done once on the host"
              " that claimed the run")


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", default="1,2,4", help="host counts, one round each, in this order (default 1,2,4)")
    parser.add_argument("--crawls", type=int, default=32, help="crawls (ticks) a round queues (default 32)")
    parser.add_argument("--products", type=int, default=40, help="products of the demo site (default 40)")
    parser.add_argument("--slots", type=int, default=2, help="--slots of every host's daemon (default 2)")
    parser.add_argument("--latency-ms", type=int, default=50, help="the demo site's delay per response (default 50)")
    parser.add_argument("--concurrency", type=int, default=1, help="[fetch] concurrency of each crawl (default 1)")
    parser.add_argument("--repeat", type=int, default=1, help="run the --hosts sequence this often (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data, run outputs)")
    args = parser.parse_args(argv)
    try:
        args.host_counts = [int(v) for v in args.hosts.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--hosts expects numbers separated by commas, got {args.hosts!r}")
    if not args.host_counts or min(args.host_counts) < 1 or max(args.host_counts) > 26:
        parser.error("--hosts: counts from 1 to 26")
    for name in ("crawls", "products", "slots", "concurrency", "repeat"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    missing = netns_missing() or postgres_missing()
    if missing:
        print(f"cannot run: {missing}", file=sys.stderr)
        return 1
    machine = {**machine_info(), "code": code_label("worktree") + ", " + code_label("HEAD")}
    home = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    stack = start_stack(max(args.host_counts), args.products, args.latency_ms, home)
    rounds: list[Round] = []
    try:
        warmup = run_round(stack, "warmup", 1, 1, 1, args.concurrency, args.products)
        print(f"warm-up: 1 tick in {warmup.wall_s:.1f} s", flush=True)
        for rep in range(args.repeat):
            for k in args.host_counts:
                r = run_round(stack, f"r{rep}h{k}", k, args.crawls, args.slots, args.concurrency, args.products)
                rounds.append(r)
                print(f"{k} host(s): {r.ticks} ticks in {r.wall_s:.1f} s ({r.ticks_per_min:.1f} ticks/min, "
                      f"CPU busy {r.busy_pct(machine['nproc']):.0f} %){' PROBLEMS' if r.problems else ''}", flush=True)
    except BenchError as exc:
        print(f"bench broke: {exc}", file=sys.stderr)
        return 1
    finally:
        stop_stack(stack)
        if args.keep:
            print(f"kept {home}")
        else:
            subprocess.run(["rm", "-rf", str(home)], check=False)
    pages_per_tick = warmup.pages / max(warmup.ticks, 1)
    print_report(machine, args, warmup, rounds, pages_per_tick)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": machine, "args": {k: v for k, v in vars(args).items()},
                                   "warmup": asdict(warmup), "rounds": [asdict(r) for r in rounds]}, indent=2))
    return 1 if warmup.problems or any(r.problems for r in rounds) else 0


if __name__ == "__main__":
    sys.exit(main())
