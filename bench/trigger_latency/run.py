"""Trigger latency: from a tick falling due to its crawl RUNNING in luigid.

Usage (from the repository root)::

    .venv/bin/python bench/trigger_latency/run.py [--ticks 100] [--spacing 3.5] [--products 20] [--keep]

Method
------
* Real parts, all in a temp dir: a real ``luigid`` (task history on, SQLite;
  the repo's luigi.cfg with every path moved into the temp dir, via
  ``bench/crawl_vs_scrapy/harness.py``) on a free port; the demo site
  (``--products`` products, so a crawl takes well under the tick spacing); a
  webmon DB (SQLite file, ``manage.py migrate``) holding ONE schedule: cron
  ``* * * * *``, catch-up ``latest``, overlap ``allow`` (max 10 active runs,
  so a tick never waits for the previous one), no retries, no jitter, ending
  after ``--ticks`` ticks; a crawl spec ``bench`` (demo.toml with the demo
  site's URL) in a temp spec dir.
* The daemon is the real ``Trigger`` (``bench/trigger_latency/daemon.py``:
  ``run_forever(idle_sleep=1.0)``, the default command, so each tick spawns
  the real ``python -m luigi --module pipelines.tasks RunCrawl --crawl bench
  --at ...``), on a fast fake clock: fake = base + (time.time() - t0) * speed
  with speed = 60 / ``--spacing`` and ``clock_speed=speed`` (its sleeps are
  converted to real seconds). Tick T falls due at real time
  r(T) = t0 + (T - base) / speed.
* Times per tick, all from the same host clock:
  - due: r(T);
  - round: the real start of the daemon round that spawned it, and
    spawned: the return of ``subprocess.Popen`` (probes in daemon.py);
  - first add_task: the tick's first PENDING event in luigid's task history
    (RunCrawl's: the worker has started, imported the tasks, checked
    ``complete()`` and made its first scheduling RPC);
  - RUNNING: FetchPages' RUNNING event (``task_events.ts``, written by luigid
    with ``datetime.now()`` under TZ=UTC, joined on ``task_parameters``
    at=T). RunCrawl is a wrapper that luigid marks RUNNING only after the
    whole chain, so the first task of the tick going RUNNING is what
    "RunCrawl RUNNING in luigid" means for latency; RunCrawl's own RUNNING is
    reported too.
  The daemon's ``ScheduledRun.started_at`` (fake clock, the round's ``now``)
  is converted back to real time as a cross-check of the round probe.
* Statistics over all ticks: median and p95 (nearest rank) of each part.
  Target: median of due -> FetchPages RUNNING at most 1 s.
* Noise: every 50 ms a thread records the machine's busy CPU (/proc/stat)
  and the CPU of this benchmark's process tree (luigid, demo site, daemon,
  crawls, this process; utime + stime + reaped children's). Other processes'
  CPU in a tick's window [due, RUNNING] is the difference; above 10 % of the
  window's wall time the tick is flagged NOISY. Figures are given for all
  ticks and for the quiet ones.
* After the ticks (``--no-analysis`` skips it): where the start-up time goes:
  wall time of ``python -c pass``, ``-c "import luigi.cmdline"``, ``-c
  "import luigi.cmdline, pipelines.tasks"`` and of a no-op ``RunCrawl`` of an
  already stored tick (start-up + complete() + luigid RPCs + exit), 11 runs
  each, interleaved, median; the phases of a CLI start-up up to
  ``complete()`` (``startup.py``: imports, command-line parse, complete() of
  an unstored tick; median of 11); and ``python -X importtime`` of the tasks
  module: the import tree to 3 levels by cumulative time (median of 7).

Exit status 0 when the benchmark ran (target met or not), 1 when it broke.
Results also go to ``var/bench/trigger_latency.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "crawl_vs_scrapy"))

from harness import (  # noqa: E402
    REPO,
    BenchError,
    bench_env,
    bench_spec,
    demo_server,
    free_port,
    luigi_cfg,
    luigid,
    machine_busy_seconds,
    machine_info,
)
from measure import descendants  # noqa: E402

OUT = REPO / "var" / "bench" / "trigger_latency.json"
BASE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)  # the fake clock's start; ticks from BASE + 1 min
TARGET_S = 1.0
NOISE = 0.10
TICK_HZ = os.sysconf("SC_CLK_TCK")


# -- CPU accounting ------------------------------------------------------------
def tree_cpu_seconds(root: int) -> float:
    """utime + stime + reaped children's of `root` and every live descendant."""
    total = 0
    for pid in descendants(root):
        try:
            stat = (Path("/proc") / str(pid) / "stat").read_bytes()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2:].split()
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / TICK_HZ


class CpuSampler:
    """(time, machine busy CPU s, our tree's CPU s) every `interval` seconds."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.samples: list[tuple[float, float, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> CpuSampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        me = os.getpid()
        while not self._stop.is_set():
            self.samples.append((time.time(), machine_busy_seconds(), tree_cpu_seconds(me)))
            self._stop.wait(self.interval)

    def others(self, start: float, end: float) -> tuple[float, float]:
        """Other processes' CPU seconds over the sampled window covering [start, end], and its length."""
        before = [s for s in self.samples if s[0] <= start]
        after = [s for s in self.samples if s[0] >= end]
        if not before or not after:
            return math.nan, end - start
        a, b = before[-1], after[0]
        return max(0.0, (b[1] - a[1]) - (b[2] - a[2])), b[0] - a[0]


# -- helpers -------------------------------------------------------------------
def pct(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def manage(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)
    if done.returncode != 0:
        raise BenchError(f"manage.py {args[0]} failed: {done.stderr[-3000:]}")
    return done.stdout


def history_times(history_db: Path) -> dict[str, dict[str, float]]:
    """at -> {"FetchPages RUNNING": epoch, "first PENDING": epoch, ...} from luigid's task history."""
    out: dict[str, dict[str, float]] = defaultdict(dict)
    with sqlite3.connect(history_db) as db:
        rows = db.execute(
            "SELECT t.name, e.event_name, e.ts, p.value FROM task_events e JOIN tasks t ON t.id = e.task_id"
            " JOIN task_parameters p ON p.task_id = t.id AND p.name = 'at' ORDER BY e.ts, e.id").fetchall()
    for name, event, ts, at in rows:
        epoch = dt.datetime.fromisoformat(ts).replace(tzinfo=dt.UTC).timestamp()  # naive UTC (luigid TZ=UTC)
        times = out[at]
        times.setdefault(f"{name} {event}", epoch)  # the first such event
        times.setdefault("first PENDING", epoch) if event == "PENDING" else None
    return out


def scheduled_runs(webmon_db: Path) -> dict[str, dict[str, Any]]:
    with sqlite3.connect(webmon_db) as db:
        db.row_factory = sqlite3.Row
        rows = db.execute("SELECT logical_time, state, exit_code, started_at, attempts, reason"
                          " FROM scheduling_scheduledrun").fetchall()
    runs = {}
    for row in rows:
        tick = dt.datetime.fromisoformat(row["logical_time"]).replace(tzinfo=dt.UTC)
        runs[tick.strftime("%Y-%m-%dT%H%M")] = dict(row)
    return runs


def fake_to_real(value: str, t0: float, speed: float) -> float:
    fake = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return t0 + (fake - BASE).total_seconds() / speed


def walls(commands: dict[str, list[str]], env: dict[str, str], runs: int = 11) -> dict[str, float]:
    """Median wall time (spawn to exit) of each command, the commands interleaved round by round."""
    times: dict[str, list[float]] = defaultdict(list)
    for _ in range(runs):
        for label, argv in commands.items():
            started = time.monotonic()
            done = subprocess.run(argv, cwd=REPO, env=env, stdin=subprocess.DEVNULL, capture_output=True)
            times[label].append(time.monotonic() - started)
            if done.returncode != 0:
                raise BenchError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-2000:]}")
    return {label: statistics.median(values) for label, values in times.items()}


def _import_tree(stderr: str) -> list[tuple[int, str, float]]:
    """`-X importtime` lines (children printed before their importer) as (level, module, cumulative ms),
    parents first."""
    pending: list[tuple[int, str, float, list]] = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self_us, cum_us, name = line.split(":", 1)[1].split("|", 2)
        level = (len(name) - len(name.lstrip())) // 2  # "| name": one space, then two more per level
        children = []
        while pending and pending[-1][0] == level + 1:
            children.insert(0, pending.pop())
        pending.append((level, name.strip(), int(cum_us) / 1000, children))
    flat: list[tuple[int, str, float]] = []

    def walk(node: tuple[int, str, float, list]) -> None:
        flat.append(node[:3])
        for child in node[3]:
            walk(child)

    for node in pending:
        walk(node)
    return flat


def importtime(env: dict[str, str], runs: int = 7) -> tuple[list[tuple[str, float]], dict[str, float]]:
    """The import tree of `import luigi.cmdline, pipelines.tasks` down to 3 levels, by cumulative ms
    (median of runs), and selected modules where they are first imported (cumulative ms)."""
    tops: dict[str, list[float]] = defaultdict(list)
    deep: dict[str, list[float]] = defaultdict(list)
    watch = ("luigi", "luigi.interface", "luigi.rpc", "luigi.worker", "luigi.configuration", "luigi.parameter",
             "luigi.task", "luigi.scheduler", "requests", "urllib3", "tenacity", "tornado", "tornado.ioloop",
             "sqlalchemy", "pipelines.tasks", "pipelines.fetch.crawler", "pipelines.parse", "pipelines.store",
             "pipelines.spec", "pipelines.warc", "pipelines.targets", "parsel", "lxml", "lxml.etree", "lxml.html",
             "cssselect", "jmespath", "httpx", "aiohttp", "h2", "selenium", "playwright", "email", "http.client",
             "asyncio", "ssl", "json", "logging", "pipelines.runs.context", "prometheus_client", "dateutil",
             "importlib.metadata", "multiprocessing", "concurrent.futures", "decimal", "uuid", "socket")
    order: list[str] = []
    for _ in range(runs):
        done = subprocess.run([sys.executable, "-X", "importtime", "-c", "import luigi.cmdline, pipelines.tasks"],
                              cwd=REPO, env=env, capture_output=True, text=True)
        for level, module, ms in _import_tree(done.stderr):
            if level <= 2:
                key = f"{'  ' * level}{module}"
                if key not in tops:
                    order.append(key)
                tops[key].append(ms)
            if module in watch:
                deep[module].append(ms)  # -X importtime reports a module once: where it is first imported
    top = [(key, statistics.median(tops[key])) for key in order]
    return top, {m: statistics.median(v) for m, v in deep.items()}


# -- the benchmark -------------------------------------------------------------
def run(args: argparse.Namespace) -> dict[str, Any]:
    speed = 60.0 / args.spacing
    tmp = Path(tempfile.mkdtemp(prefix="bench-trigger-latency-"))
    for sub in ("crawls", "data", "luigid", "outputs"):
        (tmp / sub).mkdir()
    port = free_port()
    cfg = tmp / "luigi.cfg"
    text = luigi_cfg(tmp, port)
    text = text.replace("json_log = var/log/tasks.jsonl", f"json_log = {tmp / 'tasks.jsonl'}")
    if str(tmp / "tasks.jsonl") not in text:
        raise BenchError("luigi.cfg's [runs] json_log changed: update run.py")
    cfg.write_text(text)
    env = {**bench_env(), "LUIGI_CONFIG_PATH": str(cfg), "CRAWL_SPEC_DIRS": str(tmp / "crawls"),
           "CRAWL_DATA_DIR": str(tmp / "data"), "DATABASE_URL": f"sqlite:///{tmp / 'webmon.db'}",
           "SECRET_KEY": "bench-only", "DJANGO_SETTINGS_MODULE": "webmon.settings",
           "LUIGID_URL": f"http://127.0.0.1:{port}", "PYTHONPATH": str(REPO)}
    machine = machine_info()
    print(f"temp dir {tmp}; luigid on :{port}; {args.ticks} ticks every {args.spacing} s (speed {speed:.2f})",
          flush=True)
    result: dict[str, Any] = {"machine": machine, "ticks": args.ticks, "spacing_s": args.spacing, "speed": speed,
                              "products": args.products, "target_median_s": TARGET_S}
    try:
        with demo_server(args.products) as server, luigid(cfg, port, tmp / "luigid.log"):
            (tmp / "crawls" / "bench.toml").write_text(bench_spec(server.url, 20000))
            manage(["migrate", "--noinput"], env)
            end = BASE + dt.timedelta(minutes=args.ticks)
            manage(["shell", "-c", (
                "from datetime import datetime;"
                "from webmon.scheduling.models import Schedule;"
                "Schedule.objects.create(name='bench', crawl='bench', cron='* * * * *', catchup='latest',"
                " overlap='allow', max_active_runs=10, retries=0, jitter_seconds=0,"
                f" start_at=datetime.fromisoformat('{BASE.isoformat()}'),"
                f" last_tick=datetime.fromisoformat('{BASE.isoformat()}'),"
                f" end_at=datetime.fromisoformat('{end.isoformat()}'))")], env)
            spawn_log = tmp / "spawns.jsonl"
            t0 = time.time() + 2.0  # the daemon imports Django first; tick 1 is due at t0 + spacing
            fast = {**env, "FAST_BASE": BASE.isoformat(), "FAST_T0": repr(t0), "FAST_SPEED": repr(speed),
                    "FAST_SPAWN_LOG": str(spawn_log), "FAST_OUTPUT_DIR": str(tmp / "outputs")}
            sampler = CpuSampler().start()
            busy0 = machine_busy_seconds()
            with open(tmp / "daemon.log", "wb") as log:
                daemon = subprocess.Popen([sys.executable, str(HERE / "daemon.py")], cwd=REPO, env=fast,
                                          stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
            try:
                deadline = t0 + (args.ticks + 1) * args.spacing + 120
                final = ("success", "failed", "skipped", "timed_out")
                reported = 0
                while True:
                    if daemon.poll() is not None:
                        raise BenchError(f"the daemon exited with {daemon.returncode}: "
                                         f"{(tmp / 'daemon.log').read_text()[-3000:]}")
                    runs = scheduled_runs(tmp / "webmon.db")
                    finished = sum(1 for r in runs.values() if r["state"] in final)
                    if finished >= args.ticks:
                        break
                    if time.time() > deadline:
                        raise BenchError(f"only {finished} of {args.ticks} ticks finished in time")
                    if finished // 10 > reported // 10:
                        print(f"  ... {finished} of {args.ticks} ticks finished", flush=True)
                    reported = finished
                    time.sleep(1.0)
            finally:
                daemon.send_signal(signal.SIGTERM)
                try:
                    daemon.wait(30)
                except subprocess.TimeoutExpired:
                    daemon.kill()
                    daemon.wait()
                sampler.stop()
            busy = machine_busy_seconds() - busy0
            result["ticks_detail"] = collect(tmp, t0, speed, sampler)
            ours = sampler.samples[-1][2] - sampler.samples[0][2]
            span = sampler.samples[-1][0] - sampler.samples[0][0]
            result["whole_run"] = {"wall_s": round(span, 1), "machine_busy_cpu_s": round(busy, 1),
                                   "our_tree_cpu_s": round(ours, 1),
                                   "others_cpu_s": round(max(0.0, busy - ours), 1)}
            if not args.no_analysis:
                print("where the start-up time goes ...", flush=True)
                result["startup"] = analysis(env, port, result["ticks_detail"])
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    result["summary"] = summarize(result["ticks_detail"])
    return result


def collect(tmp: Path, t0: float, speed: float, sampler: CpuSampler) -> list[dict[str, Any]]:
    spawns = {}
    for line in (tmp / "spawns.jsonl").read_text().splitlines():
        record = json.loads(line)
        spawns.setdefault(record["at"], record)  # retries are off: one spawn per tick
    history = history_times(tmp / "history.db")
    runs = scheduled_runs(tmp / "webmon.db")
    ticks = []
    for at, run in sorted(runs.items()):
        tick = dt.datetime.strptime(at, "%Y-%m-%dT%H%M").replace(tzinfo=dt.UTC)
        due = t0 + (tick - BASE).total_seconds() / speed
        spawn, times = spawns.get(at), history.get(at, {})
        if spawn is None or "FetchPages RUNNING" not in times:
            raise BenchError(f"tick {at}: state {run['state']} ({run['reason']}), spawned {spawn is not None},"
                             f" history {sorted(times)}")
        running = times["FetchPages RUNNING"]
        others, window = sampler.others(due, running)
        ticks.append({
            "at": at, "state": run["state"], "exit_code": run["exit_code"],
            "due": due, "round_started": spawn["round_started"], "popen_start": spawn["popen_start"],
            "reap_done": spawn["marks"].get("reap"), "plan_done": spawn["marks"].get("plan"),
            "spawned": spawn["spawned"], "started_at_real": fake_to_real(run["started_at"], t0, speed),
            "first_pending": times["first PENDING"], "fetch_running": running,
            "runcrawl_running": times.get("RunCrawl RUNNING"), "runcrawl_done": times.get("RunCrawl DONE"),
            "others_cpu_s": others, "window_s": window,
            "noisy": bool(math.isnan(others) or others > NOISE * window),
        })
    return ticks


PARTS = [  # (key, label, start field, end field)
    ("total", "due -> FetchPages RUNNING (total)", "due", "fetch_running"),
    ("daemon", "due -> spawned (daemon)", "due", "spawned"),
    ("wake", "  due -> round start (wake-up)", "due", "round_started"),
    ("steps", "  heartbeat, adopt, reap steps", "round_started", "reap_done"),
    ("plan", "  plan step (due ticks, claim, insert run)", "reap_done", "plan_done"),
    ("start", "  start step up to Popen (claim run, log)", "plan_done", "popen_start"),
    ("popen", "  Popen (fork + exec)", "popen_start", "spawned"),
    ("worker", "spawned -> FetchPages RUNNING (luigi CLI)", "spawned", "fetch_running"),
    ("startup", "  spawned -> first add_task (start-up)", "spawned", "first_pending"),
    ("rpcs", "  first add_task -> RUNNING (RPCs)", "first_pending", "fetch_running"),
    ("runcrawl", "due -> RunCrawl RUNNING (after the chain)", "due", "runcrawl_running"),
    ("started_at_check", "round start (probe) - started_at (DB)", "started_at_real", "round_started"),
]


def summarize(ticks: list[dict[str, Any]]) -> dict[str, Any]:
    quiet = [t for t in ticks if not t["noisy"]]
    out: dict[str, Any] = {"n": len(ticks), "quiet_n": len(quiet),
                           "states": dict(sorted(_count(t["state"] for t in ticks).items()))}
    for key, _label, start, end in PARTS:
        for name, group in (("all", ticks), ("quiet", quiet)):
            values = [t[end] - t[start] for t in group if t[end] is not None and t[start] is not None]
            if values:
                out.setdefault(key, {})[name] = {"median_s": statistics.median(values), "p95_s": pct(values, 95),
                                                 "min_s": min(values), "max_s": max(values)}
    out["pass"] = out["total"]["all"]["median_s"] <= TARGET_S
    return out


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = defaultdict(int)
    for v in values:
        counts[v] += 1
    return counts


def analysis(env: dict[str, str], port: int, ticks: list[dict[str, Any]]) -> dict[str, Any]:
    py = sys.executable
    at = ticks[0]["at"]  # stored already: RunCrawl is complete, the worker schedules nothing
    noop = [py, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", "bench", "--at", at,
            "--scheduler-url", f"http://127.0.0.1:{port}"]
    wall = walls({
        "python -c pass": [py, "-c", "pass"],
        "python -c 'import luigi.cmdline'": [py, "-c", "import luigi.cmdline"],
        "python -c 'import luigi.cmdline, pipelines.tasks'": [py, "-c", "import luigi.cmdline, pipelines.tasks"],
        "RunCrawl of a stored tick (start-up, complete(), RPCs, exit)": noop,
    }, env)
    phases: dict[str, list[float]] = defaultdict(list)
    for i in range(11):
        before = time.time()
        done = subprocess.run([py, str(HERE / "startup.py"), repr(before), f"2030-01-01T00{i:02d}"], cwd=REPO,
                              env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        if done.returncode != 0:
            raise BenchError(f"startup.py exited {done.returncode}: {done.stderr[-2000:]}")
        for key, value in json.loads(done.stdout.strip().splitlines()[-1]).items():
            if key.endswith("_s"):
                phases[key].append(value)
    top, deep = importtime(env)
    return {"wall_median_s": wall, "phases_median_s": {k: statistics.median(v) for k, v in phases.items()}, "importtime_top_ms": [(m, ms) for m, ms in top if ms >= 5.0],
            "importtime_selected_ms": deep}


# -- report --------------------------------------------------------------------
def report(result: dict[str, Any]) -> None:
    s = result["summary"]
    m = result["machine"]
    print(f"\n{m['nproc']} CPUs ({m['cpu_model']}), Python {m['python']}, {m['date']}; "
          f"{s['n']} ticks every {result['spacing_s']} s, {s['quiet_n']} quiet; states {s['states']}")
    w = result["whole_run"]
    print(f"whole run: {w['wall_s']} s, machine busy {w['machine_busy_cpu_s']} CPU s, ours "
          f"{w['our_tree_cpu_s']}, other processes {w['others_cpu_s']}")
    print(f"\n{'part':44} {'median s':>9} {'p95 s':>7} {'max s':>7}   {'quiet median':>12} {'quiet p95':>9}")
    for key, label, _s, _e in PARTS:
        if key not in s:
            continue
        a, q = s[key]["all"], s[key].get("quiet")
        print(f"{label:44} {a['median_s']:9.3f} {a['p95_s']:7.3f} {a['max_s']:7.3f}   "
              + (f"{q['median_s']:12.3f} {q['p95_s']:9.3f}" if q else ""))
    noisy = [t["at"] for t in result["ticks_detail"] if t["noisy"]]
    if noisy:
        print(f"NOISY ticks (other processes > {NOISE:.0%} of the window): {len(noisy)}: {', '.join(noisy[:12])}"
              + (" ..." if len(noisy) > 12 else ""))
    total = s["total"]["all"]["median_s"]
    print(f"\ntarget: median due -> RUNNING <= {TARGET_S:.1f} s: {total:.3f} s  {'PASS' if s['pass'] else 'FAIL'}")
    if "startup" in result:
        st = result["startup"]
        print("\nstart-up (median wall of 11, interleaved):")
        for k, v in st["wall_median_s"].items():
            print(f"  {k:62} {v:6.3f} s")
        print("phases of a CLI start-up up to complete() (bench/trigger_latency/startup.py, median of 11):")
        for k, v in st["phases_median_s"].items():
            print(f"  {k:62} {v:6.3f} s")
        print("imports of `luigi.cmdline, pipelines.tasks` (python -X importtime, cumulative ms >= 5, median of 7,"
              " 3 levels):")
        for module, ms in st["importtime_top_ms"]:
            print(f"  {module:44} {ms:7.1f}")
        print("  selected: " + ", ".join(f"{k} {v:.0f}" for k, v in
                                         sorted(st["importtime_selected_ms"].items(), key=lambda x: -x[1])[:14]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ticks", type=int, default=100)
    parser.add_argument("--spacing", type=float, default=3.5, help="real seconds between ticks (default 3.5)")
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--no-analysis", action="store_true", help="skip the start-up/import analysis")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir")
    args = parser.parse_args(argv)
    try:
        result = run(args)
    except BenchError as exc:
        print(f"benchmark broke: {exc}", file=sys.stderr)
        return 1
    report(result)
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=1, default=str) + "\n")
    print(f"\nwrote {OUT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
