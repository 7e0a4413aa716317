"""Run logs: a task that logs 100,000 lines, with log capture on and off.

Usage (from the repository root)::

    .venv/bin/python bench/run_logs/run.py [--lines 100000] [--also 300000] [--runs 3]

Method
------
* A real ``luigid`` (task history on, SQLite) on a free port, and the real
  luigi CLI: ``python -m luigi --module tasks LogLines --lines N`` where
  ``tasks`` is ``bench/run_logs/tasks.py``. Its logger has a console handler
  (stderr, redirected to a file), as the crawl tasks' loggers do; so "off" is
  a worker as it was before run logs, and "on" adds what capture costs.
* off: ``[worker] task_process_context`` empty. on: ``pipelines.runs.context.RunContext``
  with the shipped ``[runs]`` settings (batches of 500 lines or 1 s, the JSON
  log on), except ``log_max_lines`` raised so all lines are stored. Also on
  with batches of 5,000 lines, and on with ``--also`` lines (memory only).
* Per worker process: wall time from spawn to exit; CPU s of the worker and
  its reaped children (the log writer) from ``wait4``; the time of the task's
  own logging loop (measured inside run()); peak RSS (VmHWM, sampled from
  /proc every 20 ms) of the worker process and, apart, of its log writer.
  (``wait4``'s ru_maxrss is no use here: after vfork/exec it starts from the
  spawning process's own peak.)
* Noise: CPU the whole machine spent busy during a run (/proc/stat) minus the
  worker's and luigid's is what other processes took (2 cores: a neighbour's
  job skews the figures). Cases run interleaved, ``--runs`` times; the table
  shows, per case, the run others disturbed least, and the spread of the
  on/off ratio over all rounds is printed below it.
* Every "on" run is checked: all lines stored, in order, with gapless seq.
* Target: wall time on / off <= 1.3 at ``--lines``.

Exit status is 1 only when the benchmark breaks (a run fails, lines are missing).
Results also go to ``var/bench/run_logs.json``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
MB = 1 << 20
TARGET = 1.3


@dataclass
class Case:
    name: str
    capture: bool
    lines: int
    batch: int = 500


@dataclass
class Result:
    case: str
    lines: int
    wall_s: float
    cpu_s: float
    loop_s: float
    worker_peak_rss_mb: float
    writer_peak_rss_mb: float
    others_cpu_s: float
    stored: int | None


class PeakRss:
    """Samples VmHWM of a process and of its children until stopped (a thread)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.worker_kb = 0
        self.children_kb = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.worker_kb = max(self.worker_kb, _hwm_kb(self.pid))
            for child in _children(self.pid):
                self.children_kb = max(self.children_kb, _hwm_kb(child))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _hwm_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except (OSError, ValueError):
        return []


def busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(stat[11]) + int(stat[12])) / os.sysconf("SC_CLK_TCK")


class BenchError(RuntimeError):
    """The benchmark broke (as opposed to a target being missed)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def config(tmp: Path, port: int, case: Case) -> Path:
    path = tmp / f"{case.name}.cfg"
    context = "pipelines.runs.context.RunContext" if case.capture else ""
    path.write_text(f"""
[core]
scheduler_host = 127.0.0.1
scheduler_port = {port}
log_level = INFO
autoload_range = false

[scheduler]
record_task_history = true
state_path = {tmp}/state.pickle

[task_history]
db_connection = sqlite:///{tmp}/history.db

[worker]
keep_alive = false
task_process_context = {context}

[runs]
log_batch_lines = {case.batch}
log_max_lines = 10000000
json_log = {tmp}/tasks.jsonl
""")
    return path


def start_luigid(tmp: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config(tmp, port, Case("luigid", False, 0))), "TZ": "UTC"}
    log = open(tmp / "luigid.log", "wb")
    proc = subprocess.Popen([sys.executable, "-c", "import luigi.cmdline; luigi.cmdline.luigid()",
                             "--address", "127.0.0.1", "--port", str(port)], cwd=tmp, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/task_list", timeout=2):
                return proc
        except OSError:
            if proc.poll() is not None:
                raise BenchError(f"luigid exited: {(tmp / 'luigid.log').read_text()[-2000:]}") from None
            time.sleep(0.1)
    raise BenchError("luigid did not start in 30 s")


def run_case(tmp: Path, port: int, luigid_pid: int, case: Case, n: int) -> Result:
    name = f"{case.name}-{n}"
    out = tmp / f"{name}.json"
    # cwd is the temp dir: luigi also reads ./luigi.cfg, and the repository's must not leak in.
    env = {**os.environ, "LUIGI_CONFIG_PATH": str(config(tmp, port, case)), "TZ": "UTC",
           "PYTHONPATH": f"{REPO}{os.pathsep}{HERE}"}
    argv = [sys.executable, "-m", "luigi", "--module", "tasks", "LogLines", "--name", name,
            "--lines", str(case.lines), "--out", str(out)]
    busy, luigid_cpu = busy_seconds(), cpu_seconds(luigid_pid)
    started = time.perf_counter()
    with open(tmp / f"{name}.stderr", "wb") as err:
        proc = subprocess.Popen(argv, cwd=tmp, env=env, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        peak = PeakRss(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        peak.stop()
    wall = time.perf_counter() - started
    cpu = usage.ru_utime + usage.ru_stime
    others = busy_seconds() - busy - cpu - (cpu_seconds(luigid_pid) - luigid_cpu)
    if os.waitstatus_to_exitcode(status) != 0:
        raise BenchError(f"{name} exited with {status}: {(tmp / f'{name}.stderr').read_text()[-2000:]}")
    task = json.loads(out.read_text())
    stored = check_stored(tmp, name, case.lines) if case.capture else None
    return Result(case.name, case.lines, round(wall, 3), round(cpu, 3), round(task["loop_s"], 3),
                  round(peak.worker_kb / 1024, 1), round(peak.children_kb / 1024, 1), round(max(0.0, others), 2),
                  stored)


def check_stored(tmp: Path, name: str, lines: int) -> int:
    """All lines of the run are in the history DB, in order; returns how many rows the run has."""
    with sqlite3.connect(tmp / "history.db") as db:
        run_id, log_lines = db.execute("SELECT id, log_lines FROM crawl_runs WHERE params LIKE ? ORDER BY id DESC",
                                       (f'%"name": "{name}"%',)).fetchone()
        rows = db.execute("SELECT seq, message FROM crawl_run_logs WHERE run_id = ? ORDER BY seq", (run_id,)).fetchall()
    ours = [m for _, m in rows if m.startswith("fetched page ")]
    if len(ours) != lines or [s for s, _ in rows] != list(range(1, len(rows) + 1)) or log_lines != len(rows):
        raise BenchError(f"{name}: {len(ours)} of {lines} lines stored, {len(rows)} rows, log_lines {log_lines}")
    if not all(m.startswith(f"fetched page {i} of ") for i, m in enumerate(ours, 1)):
        raise BenchError(f"{name}: lines out of order")
    return len(rows)


def machine() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return {"date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"), "nproc": os.cpu_count(),
            "cpu_model": cpu, "ram_gib": round(mem_kb / MB, 1), "python": platform.python_version(),
            "sqlite": sqlite3.sqlite_version, "load_avg_1m_before": round(os.getloadavg()[0], 2)}


def least_disturbed(results: list[Result]) -> Result:
    return min(results, key=lambda r: r.others_cpu_s / r.wall_s)


def report(info: dict[str, object], cases: list[Case], results: dict[str, list[Result]]) -> dict[str, float]:
    runs = len(results[cases[0].name])
    print(f"\n{info['date']}; {info['nproc']} CPUs ({info['cpu_model']}), {info['ram_gib']} GiB RAM, "
          f"Python {info['python']}, SQLite {info['sqlite']}; least disturbed of {runs} runs per case\n")
    print("| case | lines | batch | wall s | CPU s | logging loop s | worker peak RSS MB | writer peak RSS MB "
          "| others' CPU s |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    best = {case.name: least_disturbed(results[case.name]) for case in cases}
    for case in cases:
        r = best[case.name]
        writer = f"{r.writer_peak_rss_mb:.1f}" if case.capture else "-"
        print(f"| {case.name} | {case.lines:,} | {case.batch if case.capture else '-'} | {r.wall_s:.2f} | "
              f"{r.cpu_s:.2f} | {r.loop_s:.2f} | {r.worker_peak_rss_mb:.1f} | {writer} | {r.others_cpu_s:.2f} |")
    off, on, big = best["off"], best["on"], best["on-batch-5000"]
    ratios = {
        "wall_on_over_off": on.wall_s / off.wall_s,
        "loop_on_over_off": on.loop_s / off.loop_s,
        "cpu_on_over_off": on.cpu_s / off.cpu_s,
        "worker_rss_on_minus_off_mb": on.worker_peak_rss_mb - off.worker_peak_rss_mb,
        "worker_rss_batch5000_minus_batch500_mb": big.worker_peak_rss_mb - on.worker_peak_rss_mb,
        "writer_rss_batch5000_minus_batch500_mb": big.writer_peak_rss_mb - on.writer_peak_rss_mb,
    }
    rounds = [o.wall_s / f.wall_s for o, f in zip(results["on"], results["off"], strict=True)]
    verdict = "PASS" if ratios["wall_on_over_off"] <= TARGET else "FAIL"
    print(f"\nwall time on / off: {ratios['wall_on_over_off']:.2f} (target <= {TARGET}) {verdict}; "
          f"per round {min(rounds):.2f}-{max(rounds):.2f} (median {statistics.median(rounds):.2f})")
    print(f"logging loop on / off: {ratios['loop_on_over_off']:.2f}; CPU on / off: {ratios['cpu_on_over_off']:.2f}")
    print(f"worker peak RSS on minus off: {ratios['worker_rss_on_minus_off_mb']:+.1f} MB; batch 5,000 minus 500: "
          f"worker {ratios['worker_rss_batch5000_minus_batch500_mb']:+.1f} MB, "
          f"writer {ratios['writer_rss_batch5000_minus_batch500_mb']:+.1f} MB")
    if "on-more-lines" in best:
        more = best["on-more-lines"]
        ratios["worker_rss_more_lines_minus_on_mb"] = more.worker_peak_rss_mb - on.worker_peak_rss_mb
        ratios["writer_rss_more_lines_minus_on_mb"] = more.writer_peak_rss_mb - on.writer_peak_rss_mb
        print(f"peak RSS at {more.lines:,} lines minus at {on.lines:,}: worker "
              f"{ratios['worker_rss_more_lines_minus_on_mb']:+.1f} MB, writer "
              f"{ratios['writer_rss_more_lines_minus_on_mb']:+.1f} MB")
    return ratios


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--also", type=int, default=300_000, help="lines of the memory-only case (0: skip it)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    cases = [Case("off", False, args.lines), Case("on", True, args.lines),
             Case("on-batch-5000", True, args.lines, 5000)]
    if args.also:
        cases.append(Case("on-more-lines", True, args.also))
    info = machine()
    results: dict[str, list[Result]] = {c.name: [] for c in cases}
    with tempfile.TemporaryDirectory(prefix="bench-run-logs-") as name:
        tmp, port = Path(name), free_port()
        luigid = start_luigid(tmp, port)
        try:
            for n in range(args.runs):
                for case in cases:
                    result = run_case(tmp, port, luigid.pid, case, n)
                    results[case.name].append(result)
                    print(f"run {n + 1}: {result}", flush=True)
        except BenchError as exc:
            print(f"benchmark broke: {exc}", file=sys.stderr)
            return 1
        finally:
            luigid.terminate()
            luigid.wait(10)
    ratios = report(info, cases, results)
    out = REPO / "var" / "bench" / "run_logs.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"machine": info, "ratios": ratios,
                               "runs": {k: [asdict(r) for r in v] for k, v in results.items()}}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
