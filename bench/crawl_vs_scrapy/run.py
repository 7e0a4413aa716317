"""Crawl throughput and memory: our Luigi chain vs Scrapy, on the demo site.

Usage (from the repository root)::

    .venv/bin/python bench/crawl_vs_scrapy/run.py [--pages 10000] [--also 2000] [--runs 1] [--keep]

Method
------
* Site: ``pipelines.demo.server`` (a separate process, started fresh for every
  crawl so each crawler pays the same page-rendering cost) with as many
  products as make the demo spec's crawl fetch ``--pages`` pages
  (home + listings + products; see ``harness.products_for``).
* Scrapy: ``scrapy runspider spider.py`` from ``var/bench/scrapy-venv``
  (created once with ``scrapy==2.19.0``), 32 concurrent requests, robots.txt
  obeyed, no autothrottle, items to a JSON-lines feed in a temp dir.
* Ours: a real ``luigid`` on a free port with a temp luigi.cfg (the repo's,
  every path moved to a temp dir), then ``python -m luigi --module
  pipelines.tasks RunCrawl --crawl <temp>/bench.toml --at 2026-01-01T0000``,
  i.e. FetchPages -> ParsePages -> StoreItems (WARC, items.jsonl, SQLite
  items DB). The spec is demo.toml with only name, start URL and max_pages
  changed (so ``concurrency = 16``).
* Measured per crawler process (``measure.run_measured``): wall time from
  spawn to exit (start-up included, same rule for both), CPU seconds
  (user + system of the process and its waited-for children, from ``wait4``),
  and peak RSS = max over time of the summed VmRSS of the process and all its
  descendants, sampled every 20 ms from /proc. The demo server and luigid are
  not descendants of the crawler and are not counted (luigid's own peak RSS
  is reported apart, and the JSON has ``stack_peak_rss_mb``: worker + luigid
  summed at each sample).
* Pages = HTTP responses for crawl URLs, robots.txt excluded: Scrapy's
  ``downloader/response_count - robotstxt/response_count``; ours, the sum of
  ``responses_by_status`` in the fetch stage's stats.json. pages/s = pages /
  wall. Items = lines of Scrapy's feed; rows of ``crawl_items`` for ours.
  Every item of both crawlers is checked against ``pipelines.demo.site.product``.
* Noise check: the CPU the whole machine spent busy during a crawl (from
  /proc/stat) minus that of the crawler, the demo server and luigid is what
  other processes took; above 10 % of the crawl's wall time the row is
  flagged NOISY (2 cores: a neighbour's test run skews the figures). With
  ``--runs K`` every case is crawled K times, interleaved, and the run with
  the least such CPU per wall second is reported (all runs go to the JSON).
* Targets: our pages/s >= 1.5 x Scrapy's; our peak RSS <= Scrapy's; our
  peak RSS at ``--also`` pages within 10 % of that at ``--pages``.

Exit status is 0 when the benchmark ran (whether or not targets are met) and
1 when it broke. Results also go to ``var/bench/crawl_vs_scrapy.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from harness import (
    DEMO_SPEC,
    REPO,
    SCRAPY_VERSION,
    BenchError,
    Server,
    bench_env,
    bench_spec,
    cpu_seconds,
    demo_server,
    free_port,
    luigi_cfg,
    luigid,
    machine_busy_seconds,
    machine_info,
    products_for,
    scrapy_venv,
)
from measure import Measurement, TreeSampler, run_measured, tree_cpu_seconds

from pipelines.demo.site import product  # noqa: E402 (harness puts the repo on sys.path)

HERE = Path(__file__).resolve().parent
RESULTS = REPO / "var" / "bench" / "crawl_vs_scrapy.json"
TICK = "2026-01-01T0000"
MB = 1024 * 1024
PRODUCT_URL = re.compile(r"/catalogue/product-(\d+)\.html$")

TARGET_SPEED = 1.5   # our pages/s / Scrapy's, at least
TARGET_RSS = 1.0     # our peak RSS / Scrapy's, at most
TARGET_FLAT = 0.10   # |our RSS at N / our RSS at --also - 1|, at most
NOISE = 0.10         # CPU of unrelated processes / crawl wall time above which a run is flagged


@dataclass
class Result:
    crawler: str
    site_pages: int
    pages: int
    items: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pages_per_s": round(self.pages_per_s, 1)}


def _result(crawler: str, site_pages: int, pages: int, items: int, m: Measurement,
            detail: dict[str, Any]) -> Result:
    return Result(crawler, site_pages, pages, items, round(m.wall_s, 3), round(m.cpu_s, 3),
                  round(m.peak_rss_bytes / MB, 1),
                  {"rss_samples": m.rss_samples, "max_processes": m.max_processes, **detail})


# -- checks --------------------------------------------------------------------
def check_items(records: Iterable[tuple[str, dict[str, Any]]], products: int) -> None:
    """Every product exactly once, every field equal to the site's truth; BenchError otherwise."""
    seen: set[int] = set()
    problems: list[str] = []
    for url, fields in records:
        match = PRODUCT_URL.search(url)
        if not match:
            problems.append(f"item from a non-product page {url}")
            continue
        pid = int(match.group(1))
        expected = {k: v for k, v in product(pid).items() if k != "currency"}
        if pid in seen:
            problems.append(f"product {pid} twice")
        elif fields != expected:
            diff = {k: (fields.get(k), v) for k, v in expected.items() if fields.get(k) != v}
            problems.append(f"product {pid}: (got, expected) {diff}")
        seen.add(pid)
    missing = products - len(seen & set(range(1, products + 1)))
    if missing:
        problems.append(f"{missing} of {products} products missing")
    if problems:
        raise BenchError(f"{len(problems)} item problems, first: " + " | ".join(problems[:3]))


def _expect_ok(name: str, m: Measurement, log: Path) -> None:
    if m.returncode != 0:
        tail = log.read_text(errors="replace")[-3000:]
        raise BenchError(f"{name} exited with {m.returncode}; log tail:\n{tail}")


# -- Scrapy --------------------------------------------------------------------
@dataclass
class ScrapyRun:
    """One measured ``scrapy runspider``: its measurement, stats and items."""

    m: Measurement
    stats: dict[str, Any]
    records: list[dict[str, Any]]
    server_cpu_s: float
    others_cpu_s: float

    @property
    def pages(self) -> int:
        """HTTP responses for crawl URLs, robots.txt excluded."""
        return self.stats["downloader/response_count"] - self.stats.get("robotstxt/response_count", 0)


def scrapy_crawl(scrapy: Path, spider: Path, server: Server, spec: dict[str, Any], work: Path) -> ScrapyRun:
    """``scrapy runspider spider`` from ``server.url`` with the spec's follow/item_pages rules, measured.

    The spider takes start_url, follow, item_pages and stats_path arguments (see spider.py).
    BenchError when Scrapy fails.
    """
    work.mkdir(parents=True)
    feed, stats_path, log = work / "items.jsonl", work / "stats.json", work / "scrapy.log"
    with open(log, "wb") as log_fh:
        argv = [str(scrapy), "runspider", str(spider),
                "-a", f"start_url={server.url}", "-a", f"follow={spec['follow'][0]}",
                "-a", f"item_pages={spec['item_pages']}", "-a", f"stats_path={stats_path}",
                "-O", f"{feed}:jsonlines"]
        server_cpu, busy = tree_cpu_seconds(server.pid), machine_busy_seconds()
        m = run_measured(argv, cwd=work, env=bench_env(), log=log_fh)
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu
        others = machine_busy_seconds() - busy - m.cpu_s - server_cpu
    _expect_ok("scrapy", m, log)
    stats = json.loads(stats_path.read_text(encoding="utf-8"))
    records = [json.loads(line) for line in feed.read_text(encoding="utf-8").splitlines()]
    return ScrapyRun(m, stats, records, server_cpu, others)


def run_scrapy(scrapy: Path, pages: int, work: Path) -> Result:
    products = products_for(pages)
    spec = tomllib.loads(DEMO_SPEC.read_text(encoding="utf-8"))
    with demo_server(products) as server:
        run = scrapy_crawl(scrapy, HERE / "spider.py", server, spec, work)
    check_items(((r.pop("url"), r) for r in run.records), products)
    detail = {"products": products, "server_cpu_s": round(run.server_cpu_s, 2),
              "others_cpu_s": round(run.others_cpu_s, 2), "finish_reason": run.stats.get("reason"),
              "responses_by_status": {k.rsplit("/", 1)[1]: v for k, v in run.stats.items()
                                      if k.startswith("downloader/response_status_count/")},
              "feed_bytes": (work / "items.jsonl").stat().st_size}
    return _result(f"Scrapy {SCRAPY_VERSION}", pages, run.pages, len(run.records), run.m, detail)


# -- ours ----------------------------------------------------------------------
def run_ours(pages: int, work: Path, code: Path = REPO) -> Result:
    """Our chain on the demo site; ``code``: the tree whose pipelines/ and luigi.cfg run (see harness.export_code)."""
    products = products_for(pages)
    (work / "crawls").mkdir(parents=True)
    (work / "luigid").mkdir()
    port = free_port()
    cfg = work / "luigi.cfg"
    cfg.write_text(luigi_cfg(work, port, code / "luigi.cfg"), encoding="utf-8")
    env = {**bench_env(), "LUIGI_CONFIG_PATH": str(cfg)}
    log = work / "worker.log"
    with demo_server(products) as server, luigid(cfg, port, work / "luigid.log") as scheduler:
        spec = work / "crawls" / "bench.toml"
        spec.write_text(bench_spec(server.url, pages * 2, code / "pipelines" / "crawls" / "demo.toml"),
                        encoding="utf-8")
        argv = [sys.executable, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl",
                "--crawl", str(spec), "--at", TICK]
        scheduler_rss = TreeSampler(scheduler.pid, 0.1).start()
        server_cpu, luigid_cpu, busy = cpu_seconds(server.pid), cpu_seconds(scheduler.pid), machine_busy_seconds()
        try:
            with open(log, "wb") as log_fh:
                m = run_measured(argv, cwd=code, env=env, log=log_fh, also=[scheduler.pid])
        finally:
            scheduler_rss.stop()
        server_cpu = cpu_seconds(server.pid) - server_cpu
        luigid_cpu = cpu_seconds(scheduler.pid) - luigid_cpu
        others = machine_busy_seconds() - busy - m.cpu_s - server_cpu - luigid_cpu
    _expect_ok("luigi RunCrawl", m, log)
    tick = work / "data" / "bench" / "20260101T0000Z"
    fetch = json.loads((tick / "fetch" / "stats.json").read_text(encoding="utf-8"))
    parse = json.loads((tick / "parse" / "stats.json").read_text(encoding="utf-8"))
    items = list(_stored_items(work / "items.db"))
    check_items(items, products)
    detail = {"products": products, "server_cpu_s": round(server_cpu, 2), "others_cpu_s": round(others, 2),
              "luigid_cpu_s": round(luigid_cpu, 2), "responses_by_status": fetch["responses_by_status"],
              "fetch_elapsed_s": fetch["elapsed_s"], "fetch_pages_per_s": fetch["pages_per_s"],
              "parse_elapsed_s": parse["elapsed_s"],
              "warc_bytes": (tick / "fetch" / "pages.warc.gz").stat().st_size,
              "luigid_peak_rss_mb": round(scheduler_rss.peak / MB, 1),
              "stack_peak_rss_mb": round(m.stack_peak_rss_bytes / MB, 1)}
    return _result("ours (luigid + RunCrawl)", pages, sum(fetch["responses_by_status"].values()),
                   len(items), m, detail)


def _stored_items(db: Path, crawl: str = "bench") -> Iterator[tuple[str, dict[str, Any]]]:
    with closing(sqlite3.connect(db)) as conn:
        for url, data in conn.execute("SELECT url, data FROM crawl_items WHERE crawl = ?", (crawl,)):
            yield url, json.loads(data)


# -- report --------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def compare(scrapy: Result, ours: Result, small: Result | None) -> dict[str, Any]:
    speed = ours.pages_per_s / scrapy.pages_per_s
    rss = ours.peak_rss_mb / scrapy.peak_rss_mb
    ratios: dict[str, Any] = {
        "speed": {"value": round(speed, 3), "target": f">= {TARGET_SPEED}", "pass": speed >= TARGET_SPEED},
        "rss": {"value": round(rss, 3), "target": f"<= {TARGET_RSS}", "pass": rss <= TARGET_RSS},
    }
    if small is not None:
        flat = ours.peak_rss_mb / small.peak_rss_mb
        ratios["rss_flat"] = {"value": round(flat, 3), "target": f"within {TARGET_FLAT:.0%} of 1",
                              "pass": abs(flat - 1) <= TARGET_FLAT}
    return ratios


def print_report(machine: dict[str, Any], rows: Sequence[Result], ratios: dict[str, Any]) -> None:
    print(f"\nmachine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, "
          f"Python {machine['python']}, {machine['date']}, load average before {machine['load_avg_1m_before']}\n")
    print(f"{'crawler':<26} {'site':>6} {'pages':>6} {'items':>6} {'wall s':>7} {'pages/s':>8} "
          f"{'CPU s':>7} {'CPU/wall':>8} {'peak RSS MB':>11}")
    for r in rows:
        print(f"{r.crawler:<26} {r.site_pages:>6} {r.pages:>6} {r.items:>6} {r.wall_s:>7.1f} "
              f"{r.pages_per_s:>8.1f} {r.cpu_s:>7.1f} {r.cpu_s / r.wall_s:>8.2f} {r.peak_rss_mb:>11.1f}")
    scrapy, ours = rows[0], rows[1]
    print()
    speed, rss = ratios["speed"], ratios["rss"]
    print(f"our pages/s / Scrapy's  = {ours.pages_per_s:.1f} / {scrapy.pages_per_s:.1f} = {speed['value']:.2f}"
          f"   target {speed['target']}   {_verdict(speed['pass'])}")
    print(f"our peak RSS / Scrapy's = {ours.peak_rss_mb:.1f} / {scrapy.peak_rss_mb:.1f} MB = {rss['value']:.2f}"
          f"   target {rss['target']}   {_verdict(rss['pass'])}")
    if "rss_flat" in ratios:
        small, flat = rows[2], ratios["rss_flat"]
        print(f"our peak RSS at {ours.site_pages} vs {small.site_pages} pages = {ours.peak_rss_mb:.1f} / "
              f"{small.peak_rss_mb:.1f} MB = {flat['value']:.2f}   target {flat['target']}   "
              f"{_verdict(flat['pass'])}")
    print(f"\nnot in the figures above: luigid peak RSS {ours.detail['luigid_peak_rss_mb']} MB, "
          f"CPU {ours.detail['luigid_cpu_s']:.1f} s during our crawl")
    for r in rows:
        # Other processes busy for over 10 % of the crawl: its figures are suspect.
        noisy = r.detail["others_cpu_s"] > NOISE * r.wall_s
        print(f"  during {r.crawler}: demo server CPU {r.detail['server_cpu_s']:.1f} s, other processes "
              f"{r.detail['others_cpu_s']:.1f} s" + ("   <- NOISY: something else ran, re-run" if noisy else ""))
    print(f"our stages: fetch {ours.detail['fetch_elapsed_s']:.1f} s ({ours.detail['fetch_pages_per_s']:.0f} pages/s), "
          f"parse {ours.detail['parse_elapsed_s']:.1f} s, the rest (start-up, store, luigi) "
          f"{ours.wall_s - ours.detail['fetch_elapsed_s'] - ours.detail['parse_elapsed_s']:.1f} s")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000, help="pages per crawl (default 10000)")
    parser.add_argument("--also", type=int, default=2_000,
                        help="also crawl a site of this many pages with ours, for RSS flatness; 0: skip")
    parser.add_argument("--runs", type=int, default=1,
                        help="crawl each case this many times (interleaved) and report, per case, the run "
                             "least disturbed by other processes (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, feeds, DBs)")
    args = parser.parse_args(argv)
    if args.pages < 100 or (args.also and args.also < 100):
        parser.error("--pages and --also need at least 100 pages")
    if args.runs < 1:
        parser.error("--runs must be >= 1")
    return args


def crawl_all(args: argparse.Namespace, tmp: Path) -> dict[str, list[Result]]:
    """Every case ``args.runs`` times, interleaved; case name -> its runs."""
    scrapy_bin = scrapy_venv()
    cases: dict[str, Callable[[Path], Result]] = {
        "scrapy": lambda work: run_scrapy(scrapy_bin, args.pages, work),
        "ours": lambda work: run_ours(args.pages, work),
    }
    if args.also:
        cases["ours_small"] = lambda work: run_ours(args.also, work)
    runs: dict[str, list[Result]] = {name: [] for name in cases}
    for i in range(1, args.runs + 1):
        for name, crawl in cases.items():
            print(f"run {i}/{args.runs}: {name} ...", flush=True)
            result = crawl(tmp / f"{i}-{name}")
            print(f"  {result.pages} pages in {result.wall_s:.1f} s, peak RSS {result.peak_rss_mb:.1f} MB, "
                  f"other processes {result.detail['others_cpu_s']:.1f} CPU s", flush=True)
            runs[name].append(result)
            time.sleep(1)
    if args.also:
        for result in runs["ours_small"]:
            result.crawler = f"ours @{args.also} pages"
    return runs


def least_disturbed(results: list[Result]) -> Result:
    return min(results, key=lambda r: r.detail["others_cpu_s"] / r.wall_s)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    machine = machine_info()
    tmp = Path(tempfile.mkdtemp(prefix="crawl-vs-scrapy-"))
    try:
        runs = crawl_all(args, tmp)
    except BenchError as exc:
        print(f"\nBENCHMARK BROKE: {exc}\n(temp dir kept: {tmp})", file=sys.stderr)
        return 1
    chosen = {name: least_disturbed(results) for name, results in runs.items()}
    rows = list(chosen.values())
    ratios = compare(chosen["scrapy"], chosen["ours"], chosen.get("ours_small"))
    print_report(machine, rows, ratios)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "command": "bench/crawl_vs_scrapy/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine, "results": [r.as_dict() for r in rows], "ratios": ratios,
        "all_runs": {name: [r.as_dict() for r in results] for name, results in runs.items()},
    }, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {RESULTS.relative_to(REPO)}")
    if args.keep:
        print(f"temp dir kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
