"""Crawl throughput and memory on real-sized pages served by nginx: our chain vs Scrapy.

Usage (from the repository root)::

    .venv/bin/python bench/realsite/run.py [--products 10000,100000] [--rounds 1] [--demo-pages 10000]
                                           [--seed 1] [--no-warc-check] [--keep] [--crawlers scrapy,ours]

Method
------
* Site: ``shop.py`` writes a static shop (seeded, so every run serves the same
  bytes) to a temp dir: ``/``, listings of 50 products with pagination,
  product pages of 20-30 KB (head with CSS/JS/meta/JSON-LD, header, a ~100-link
  navigation menu, breadcrumb, sidebar, description, specs table, 5-15
  reviews, related products, footer), and a robots.txt that disallows
  discontinued-product links the pages carry. ``nginx.py`` serves it with our
  own nginx master on 127.0.0.1 (generated config: access log off, sendfile,
  keep-alive, one worker), a fresh one for every crawl.
* Same work for both: start at ``/``, obey robots.txt, follow listing pages,
  one item per product page with the eleven fields of ``realsite.toml``,
  32 requests in flight. Scrapy 2.19 runs ``spider.py`` from
  ``var/bench/scrapy-venv`` (as bench/crawl_vs_scrapy does); ours is a real
  ``luigid`` and ``python -m luigi --module pipelines.tasks RunCrawl --crawl
  bench/realsite/realsite.toml`` (FetchPages -> ParsePages -> StoreItems:
  WARC, items.jsonl, SQLite items DB), exactly as crawl_vs_scrapy runs it.
  Its ``pipelines/`` and ``luigi.cfg`` are those of git revision ``--code``
  (default HEAD, exported with ``git archive``), not the work tree, which
  other people may be editing; ``--code worktree`` runs the work tree.
* Measured (``measure.run_measured``): wall time from spawn to exit; CPU
  seconds of the whole stack (the crawler's rusage with its waited-for
  children; for ours plus luigid's CPU during the crawl); peak RSS of the
  whole stack: the largest simultaneous sum of VmRSS over the crawler's
  process tree (for ours also luigid's tree and the run-log writer), sampled
  every 20 ms. nginx's CPU is reported apart, for both.
* Pages: HTTP responses for crawl URLs, robots.txt excluded. Items: every
  item is compared field by field with ``truth.jsonl``; a wrong, missing or
  duplicated item makes the bench exit 1 (after the table). Our WARC is
  checked with ``warcio check`` (a failure also exits 1).
* The second table row group, "demo server (small pages)", is
  bench/crawl_vs_scrapy's case (the demo server's ~2 KB pages, demo.toml at 16
  concurrent) run by that bench's own code, with ours counted the same way
  (luigid included).
* Noise: other processes' CPU (machine busy time from /proc/stat minus the
  crawler, the server and luigid) over 10 % of the crawl's wall time flags a
  row NOISY. With ``--rounds K`` the cases run interleaved K times and each
  row is the least disturbed run; every run goes to the JSON.
* Targets: our pages/s >= 2 x Scrapy's on the same site; our whole-stack peak
  RSS <= Scrapy's at 100,000 products, and within 10 % between 10,000 and
  100,000 products.

Exit status 0 when the bench ran (targets met or not), 1 when it broke or an
item or the WARC was wrong. Results also go to ``var/bench/realsite.json``.
"""

from __future__ import annotations

import argparse
import functools
import importlib.util
import json
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "crawl_vs_scrapy"))

from harness import (  # noqa: E402 (the shared bench helpers; harness puts the repo on sys.path)
    REPO,
    SCRAPY_VERSION,
    BenchError,
    bench_env,
    code_label,
    export_code,
    free_port,
    luigi_cfg,
    luigid,
    machine_busy_seconds,
    machine_info,
    scrapy_venv,
)
from measure import Measurement, run_measured, tree_cpu_seconds  # noqa: E402
from nginx import nginx  # noqa: E402
from shop import crawl_pages, write_site  # noqa: E402


@functools.cache
def _crawl_vs_scrapy() -> Any:
    """bench/crawl_vs_scrapy/run.py as a module (both files are named run.py)."""
    spec = importlib.util.spec_from_file_location("crawl_vs_scrapy_run", HERE.parent / "crawl_vs_scrapy" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


SPEC = HERE / "realsite.toml"
RESULTS = REPO / "var" / "bench" / "realsite.json"
TICK = "2026-01-01T0000"
MB = 1024 * 1024
TARGET_SPEED = 2.0   # our pages/s / Scrapy's, at least
TARGET_RSS = 1.0     # our stack peak RSS / Scrapy's at 100,000 products, at most
TARGET_FLAT = 0.10   # |our RSS at 100,000 / at 10,000 - 1|, at most
NOISE = 0.10         # CPU of unrelated processes / wall time above which a row is NOISY
DEMO = "demo server (small pages)"


@dataclass
class Row:
    site: str
    crawler: str
    products: int
    pages: int
    items: int
    items_ok: int
    wall_s: float
    cpu_s: float
    peak_rss_mb: float
    others_cpu_s: float
    server_cpu_s: float
    problems: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.wall_s

    @property
    def cpu_per_1000(self) -> float:
        return 1000 * self.cpu_s / self.pages

    @property
    def cores(self) -> float:
        return self.cpu_s / self.wall_s

    @property
    def noisy(self) -> bool:
        return self.others_cpu_s > NOISE * self.wall_s

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "pages_per_s": round(self.pages_per_s, 1),
                "cpu_s_per_1000_pages": round(self.cpu_per_1000, 3), "cores": round(self.cores, 3),
                "noisy": self.noisy}


@dataclass(frozen=True)
class Site:
    products: int
    root: Path
    facts: dict[str, Any]

    @property
    def label(self) -> str:
        return f"shop, {self.products:,} products"

    @property
    def www(self) -> Path:
        return self.root / "www"

    def truth(self) -> dict[str, dict[str, Any]]:
        out = {}
        with open(self.root / "truth.jsonl", encoding="utf-8") as fh:
            for line in fh:
                item = json.loads(line)
                out[item.pop("path")] = item
        return out


# -- checks --------------------------------------------------------------------
def check_items(records: Iterable[tuple[str, dict[str, Any]]], truth: dict[str, dict[str, Any]]) -> tuple[int, list[str]]:
    """(items equal to the truth, problems): every product exactly once, every field equal."""
    seen: set[str] = set()
    problems: list[str] = []
    ok = 0
    for url, fields in records:
        path = urlsplit(url).path
        expected = truth.get(path)
        if expected is None:
            problems.append(f"item from a page that is no product: {url}")
        elif path in seen:
            problems.append(f"{path} twice")
        elif fields != expected:
            diff = {k: (fields.get(k), v) for k, v in expected.items() if fields.get(k) != v}
            extra = sorted(set(fields) - set(expected))
            problems.append(f"{path}: (got, expected) {diff}" + (f", unexpected fields {extra}" if extra else ""))
        else:
            ok += 1
        seen.add(path)
    missing = len(set(truth) - seen)
    if missing:
        problems.append(f"{missing} of {len(truth)} products missing")
    return ok, problems


def _expect_ok(name: str, m: Measurement, log: Path) -> None:
    if m.returncode != 0:
        raise BenchError(f"{name} exited with {m.returncode}; log tail:\n{log.read_text(errors='replace')[-3000:]}")


def warc_check(warc: Path) -> dict[str, Any]:
    """``warcio check`` on a WARC: every record's digests recomputed."""
    started = time.monotonic()
    proc = subprocess.run([str(Path(sys.executable).parent / "warcio"), "check", str(warc)],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)
    output = (proc.stdout + proc.stderr).strip()
    return {"ok": proc.returncode == 0, "exit": proc.returncode, "output": output[-2000:],
            "seconds": round(time.monotonic() - started, 1), "bytes": warc.stat().st_size}


# -- the two crawlers on the shop ---------------------------------------------
def _spec() -> dict[str, Any]:
    return tomllib.loads(SPEC.read_text(encoding="utf-8"))


def run_scrapy(scrapy: Path, site: Site, work: Path) -> Row:
    with nginx(site.www, work / "nginx") as server:
        run = _crawl_vs_scrapy().scrapy_crawl(scrapy, HERE / "spider.py", server, _spec(), work / "scrapy")
    ok, problems = check_items(((r.pop("url"), r) for r in run.records), site.truth())
    detail = {"finish_reason": run.stats.get("reason"), "robots_forbidden": run.stats.get("robotstxt/forbidden", 0),
              "responses_by_status": {k.rsplit("/", 1)[1]: v for k, v in run.stats.items()
                                      if k.startswith("downloader/response_status_count/")},
              "rss_samples": run.m.rss_samples, "max_processes": run.m.max_processes}
    return Row(site.label, f"Scrapy {SCRAPY_VERSION}", site.products, run.pages, len(run.records), ok,
               round(run.m.wall_s, 3), round(run.m.cpu_s, 3), round(run.m.peak_rss_bytes / MB, 1),
               round(run.others_cpu_s, 2), round(run.server_cpu_s, 2), problems, detail)


def run_ours(site: Site, work: Path, code: Path, check_warc: bool) -> Row:
    (work / "luigid").mkdir(parents=True)
    port = free_port()
    cfg = work / "luigi.cfg"
    cfg.write_text(luigi_cfg(work, port, code / "luigi.cfg"), encoding="utf-8")
    log = work / "worker.log"
    with nginx(site.www, work / "nginx") as server, luigid(cfg, port, work / "luigid.log") as scheduler:
        env = {**bench_env(), "LUIGI_CONFIG_PATH": str(cfg), "REALSITE_PORT": str(urlsplit(server.url).port)}
        argv = [sys.executable, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl",
                "--crawl", str(SPEC), "--at", TICK]
        server_cpu, luigid_cpu = tree_cpu_seconds(server.pid), tree_cpu_seconds(scheduler.pid)
        busy = machine_busy_seconds()
        with open(log, "wb") as log_fh:
            m = run_measured(argv, cwd=code, env=env, log=log_fh, also=[scheduler.pid])
        server_cpu = tree_cpu_seconds(server.pid) - server_cpu
        luigid_cpu = tree_cpu_seconds(scheduler.pid) - luigid_cpu
        others = machine_busy_seconds() - busy - m.cpu_s - server_cpu - luigid_cpu
    _expect_ok("luigi RunCrawl", m, log)
    tick = work / "data" / _spec()["name"] / "20260101T0000Z"
    fetch = json.loads((tick / "fetch" / "stats.json").read_text(encoding="utf-8"))
    parse = json.loads((tick / "parse" / "stats.json").read_text(encoding="utf-8"))
    items = list(_crawl_vs_scrapy()._stored_items(work / "items.db", _spec()["name"]))
    ok, problems = check_items(items, site.truth())
    detail: dict[str, Any] = {
        "luigid_cpu_s": round(luigid_cpu, 2), "worker_cpu_s": round(m.cpu_s, 2),
        "worker_peak_rss_mb": round(m.peak_rss_bytes / MB, 1),
        "responses_by_status": fetch["responses_by_status"], "skipped_by_reason": fetch["skipped_by_reason"],
        "fetch_elapsed_s": fetch["elapsed_s"], "fetch_pages_per_s": fetch["pages_per_s"],
        "parse_elapsed_s": parse["elapsed_s"], "rss_samples": m.rss_samples, "max_processes": m.max_processes,
    }
    if check_warc:
        detail["warc_check"] = result = warc_check(tick / "fetch" / "pages.warc.gz")
        if not result["ok"]:
            problems.append(f"warcio check failed (exit {result['exit']}): {result['output'][:500]}")
    return Row(site.label, "ours (luigid + RunCrawl)", site.products, sum(fetch["responses_by_status"].values()),
               len(items), ok, round(m.wall_s, 3), round(m.cpu_s + luigid_cpu, 3),
               round(m.stack_peak_rss_bytes / MB, 1), round(others, 2), round(server_cpu, 2), problems, detail)


def code_tree(rev: str, dest: Path) -> Path:
    """Where our crawls run from: the repo itself for 'worktree', else ``rev`` exported to ``dest``."""
    return REPO if rev == "worktree" else export_code(rev, dest)


# -- the demo-server case, by crawl_vs_scrapy's own code ------------------------
def demo_row(result: Any, ours: bool) -> Row:
    d = result.detail
    cpu = result.cpu_s + (d["luigid_cpu_s"] if ours else 0.0)
    rss = d["stack_peak_rss_mb"] if ours else result.peak_rss_mb
    # crawl_vs_scrapy raises BenchError on any wrong item, so a returned run has every item right.
    return Row(DEMO, result.crawler, d["products"], result.pages, result.items, result.items, result.wall_s,
               round(cpu, 3), rss, d["others_cpu_s"], d["server_cpu_s"], [], d)


# -- report --------------------------------------------------------------------
def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def compare(rows: Sequence[Row], sizes: Sequence[int]) -> list[dict[str, Any]]:
    """The target checks, as rows of (what, value, target, pass)."""
    by = {(r.site, r.crawler.startswith("ours")): r for r in rows}
    out: list[dict[str, Any]] = []
    for site in dict.fromkeys(r.site for r in rows):
        scrapy, ours = by.get((site, False)), by.get((site, True))
        if scrapy is None or ours is None:
            continue
        speed = ours.pages_per_s / scrapy.pages_per_s
        out.append({"what": f"pages/s ours / Scrapy's, {site}", "value": round(speed, 2),
                    "detail": f"{ours.pages_per_s:.0f} / {scrapy.pages_per_s:.0f}",
                    "target": f">= {TARGET_SPEED:g}", "pass": speed >= TARGET_SPEED})
        rss = ours.peak_rss_mb / scrapy.peak_rss_mb
        is_target = site != DEMO and ours.products >= 100_000
        out.append({"what": f"peak RSS ours / Scrapy's, {site}", "value": round(rss, 2),
                    "detail": f"{ours.peak_rss_mb:.0f} / {scrapy.peak_rss_mb:.0f} MB",
                    "target": f"<= {TARGET_RSS:g}" if is_target else "-",
                    "pass": rss <= TARGET_RSS if is_target else None})
    ours_shop = sorted((r for r in rows if r.site != DEMO and r.crawler.startswith("ours")), key=lambda r: r.products)
    if len(ours_shop) >= 2:
        small, big = ours_shop[0], ours_shop[-1]
        flat = big.peak_rss_mb / small.peak_rss_mb
        out.append({"what": f"our peak RSS at {big.products:,} / at {small.products:,} products",
                    "value": round(flat, 2), "detail": f"{big.peak_rss_mb:.0f} / {small.peak_rss_mb:.0f} MB",
                    "target": f"within {TARGET_FLAT:.0%} of 1", "pass": abs(flat - 1) <= TARGET_FLAT})
    elif max(sizes) < 100_000:
        out.append({"what": "RSS targets at 100,000 products", "value": None, "detail": "not run",
                    "target": "--products 10000,100000", "pass": None})
    return out


def print_report(machine: dict[str, Any], rows: Sequence[Row], checks: Sequence[dict[str, Any]],
                 sites: Sequence[Site], spread: dict[str, tuple[float, float, int]]) -> None:
    print(f"\nmachine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, "
          f"Python {machine['python']}, {machine['date']}, load average before {machine['load_avg_1m_before']}; "
          f"our code: {machine['code']}")
    for s in sites:
        f = s.facts
        print(f"site {s.label}: {f['pages']:,} pages to crawl, product pages {f['product_bytes_min']:,}-"
              f"{f['product_bytes_max']:,} bytes (median {f['product_bytes_median']:,}), generated in {f['generate_s']} s")
    print()
    head = (f"{'site':<26} {'crawler':<25} {'pages':>7} {'items ok':>15} {'wall s':>7} {'pages/s':>8} "
            f"{'CPU s/1k pages':>14} {'cores':>5} {'peak RSS MB':>11} {'nginx CPU s':>11}  noise")
    print(head)
    print("-" * len(head))
    for r in rows:
        noise = f"NOISY ({r.others_cpu_s:.1f} CPU s of others)" if r.noisy else f"ok ({r.others_cpu_s:.1f} s)"
        print(f"{r.site:<26} {r.crawler:<25} {r.pages:>7,} {f'{r.items_ok:,}/{r.items:,}':>15} {r.wall_s:>7.1f} "
              f"{r.pages_per_s:>8.1f} {r.cpu_per_1000:>14.2f} {r.cores:>5.2f} {r.peak_rss_mb:>11.1f} "
              f"{r.server_cpu_s:>11.1f}  {noise}")
    print("\nCPU and peak RSS are the whole stack: ours = luigid + the luigi worker + its helper processes;"
          " Scrapy = its process tree. 'nginx CPU s' (or the demo server's) is not in them.")
    for key, (lo, hi, n) in spread.items():
        if n > 1:
            print(f"  spread over {n} rounds, {key}: {lo:.0f}-{hi:.0f} pages/s")
    print()
    for c in checks:
        verdict = "" if c["pass"] is None else _verdict(c["pass"])
        value = "-" if c["value"] is None else f"{c['value']:.2f}"
        print(f"{c['what']:<58} = {c['detail']:>17} = {value:>5}   target {c['target']:<18} {verdict}")
    print()
    for r in rows:
        if r.crawler.startswith("ours") and r.site != DEMO:
            d = r.detail
            rest = r.wall_s - d["fetch_elapsed_s"] - d["parse_elapsed_s"]
            print(f"ours on {r.site}: fetch {d['fetch_elapsed_s']:.1f} s ({d['fetch_pages_per_s']:.0f} pages/s), "
                  f"parse {d['parse_elapsed_s']:.1f} s, the rest (start-up, store, luigi) {rest:.1f} s; "
                  f"worker alone {d['worker_peak_rss_mb']:.0f} MB, luigid {d['luigid_cpu_s']:.1f} CPU s; "
                  f"skipped {d['skipped_by_reason']}")
            if "warc_check" in d:
                w = d["warc_check"]
                print(f"  warcio check {w['bytes'] / MB:.0f} MB WARC: {'OK' if w['ok'] else 'FAILED'} "
                      f"(exit {w['exit']}, {w['seconds']} s){': ' + w['output'] if w['output'] else ''}")
        elif r.site != DEMO:
            print(f"Scrapy on {r.site}: robots.txt forbade {r.detail['robots_forbidden']} requests")
    for r in rows:
        for p in r.problems[:3]:
            print(f"ITEM/WARC PROBLEM ({r.crawler}, {r.site}): {p}")


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--products", default="10000",
                        help="comma-separated shop sizes in products (default 10000; the targets need 10000,100000)")
    parser.add_argument("--rounds", type=int, default=1, help="interleaved rounds of every case (default 1)")
    parser.add_argument("--demo-pages", type=int, default=10_000,
                        help="pages of the demo-server case (bench/crawl_vs_scrapy); 0 skips it (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="the shop generator's seed (default 1)")
    parser.add_argument("--no-warc-check", action="store_true", help="skip warcio check of our WARCs")
    parser.add_argument("--code", default="HEAD",
                        help="git revision whose pipelines/ and luigi.cfg our crawls run (default HEAD); "
                             "'worktree' runs the work tree as it is")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (site, logs, WARCs, DBs)")
    parser.add_argument("--crawlers", default="scrapy,ours",
                        help="which crawlers run (default scrapy,ours); 'ours' alone measures our RSS from "
                             "10,000 to 100,000 products without Scrapy's long 100,000-product crawl, while the "
                             "targets against Scrapy need both")
    args = parser.parse_args(argv)
    try:
        args.sizes = sorted({int(v) for v in args.products.split(",") if v.strip()})
    except ValueError:
        parser.error(f"--products expects numbers separated by commas, got {args.products!r}")
    if not args.sizes or min(args.sizes) < 50:
        parser.error("--products needs at least one size of 50 products or more")
    args.crawlers = {c.strip() for c in args.crawlers.split(",") if c.strip()}
    if not args.crawlers or not args.crawlers <= {"scrapy", "ours"}:
        parser.error("--crawlers takes scrapy, ours or both, separated by a comma")
    if args.rounds < 1:
        parser.error("--rounds must be >= 1")
    if args.demo_pages and args.demo_pages < 100:
        parser.error("--demo-pages needs at least 100 pages (or 0)")
    return args


def crawl_all(args: argparse.Namespace, tmp: Path, sites: list[Site], code: Path) -> dict[str, list[Row]]:
    """Every case ``args.rounds`` times, interleaved; case name -> its runs."""
    scrapy_bin = scrapy_venv() if "scrapy" in args.crawlers else None
    cases: dict[str, Callable[[Path], Row]] = {}
    for site in sites:
        if scrapy_bin is not None:
            cases[f"scrapy@{site.products}"] = lambda work, s=site: run_scrapy(scrapy_bin, s, work)
        if "ours" in args.crawlers:
            cases[f"ours@{site.products}"] = lambda work, s=site: run_ours(s, work, code, not args.no_warc_check)
    if args.demo_pages:
        cvs = _crawl_vs_scrapy()
        if scrapy_bin is not None:
            cases["scrapy@demo"] = lambda work: demo_row(cvs.run_scrapy(scrapy_bin, args.demo_pages, work), False)
        if "ours" in args.crawlers:
            cases["ours@demo"] = lambda work: demo_row(cvs.run_ours(args.demo_pages, work, code), True)
    runs: dict[str, list[Row]] = {name: [] for name in cases}
    for i in range(1, args.rounds + 1):
        for name, crawl in cases.items():
            print(f"round {i}/{args.rounds}: {name} ...", flush=True)
            work = tmp / f"{i}-{name.replace('@', '-')}"
            row = crawl(work)
            print(f"  {row.pages:,} pages in {row.wall_s:.1f} s ({row.pages_per_s:.0f}/s), {row.cpu_s:.1f} CPU s, "
                  f"peak RSS {row.peak_rss_mb:.1f} MB, items ok {row.items_ok:,}/{row.items:,}, "
                  f"others {row.others_cpu_s:.1f} CPU s", flush=True)
            runs[name].append(row)
            if not args.keep:  # WARCs and feeds of 100,000 pages are big; the figures are in the row
                shutil.rmtree(work, ignore_errors=True)
            time.sleep(1)
    return runs


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    machine = machine_info()
    tmp = Path(tempfile.mkdtemp(prefix="realsite-"))
    sites: list[Site] = []
    try:
        code = code_tree(args.code, tmp / "code")
        machine["code"] = code_label(args.code)
        for products in args.sizes:
            print(f"writing the shop with {products:,} products ({crawl_pages(products):,} pages) ...", flush=True)
            facts = write_site(tmp / f"site-{products}", products, args.seed)
            sites.append(Site(products, tmp / f"site-{products}", facts))
        runs = crawl_all(args, tmp, sites, code)
    except BenchError as exc:
        print(f"\nBENCHMARK BROKE: {exc}\n(temp dir kept: {tmp})", file=sys.stderr)
        return 1
    chosen = [min(results, key=lambda r: r.others_cpu_s / r.wall_s) for results in runs.values()]
    spread = {f"{rs[0].crawler} on {rs[0].site}": (min(r.pages_per_s for r in rs), max(r.pages_per_s for r in rs), len(rs))
              for rs in runs.values()}
    checks = compare(chosen, args.sizes)
    print_report(machine, chosen, checks, sites, spread)
    broken = [p for results in runs.values() for r in results for p in r.problems]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "command": "bench/realsite/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine, "sites": [s.facts for s in sites], "results": [r.as_dict() for r in chosen],
        "checks": checks, "all_runs": {name: [r.as_dict() for r in rs] for name, rs in runs.items()},
        "broken": broken,
    }, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"\nresults written to {RESULTS.relative_to(REPO)}")
    if args.keep:
        print(f"temp dir kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    if broken:
        print(f"\nBENCHMARK FAILED: {len(broken)} item or WARC problems (first: {broken[0][:300]})", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
