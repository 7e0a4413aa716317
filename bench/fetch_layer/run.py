"""Fetch layer: the middleware chain on vs off, and threads vs asyncio.

Usage (from the repository root)::

    .venv/bin/python bench/fetch_layer/run.py [--pages 5000] [--runs 1] [--latency-ms 50]
        [--concurrency 1,4,16,64] [--latency-concurrency 16,64] [--only chain|concurrency]
        [--no-uvloop] [--settle 30] [--keep] [--json var/bench/fetch_layer.json]

Method
------
* Site: ``pipelines.demo.server`` as a separate process, started fresh for
  every crawl (each crawl pays the same page-rendering cost), with as many
  products as make the demo spec fetch ``--pages`` pages (home + listings +
  products, ``harness.products_for``). The latency cases start it with
  ``--latency-ms`` (every response held back that long, like a remote site).
* Every crawl is its own process, measured by ``measure.run_measured``
  (peak RSS = summed VmRSS of the process tree, sampled every 20 ms; process
  CPU from ``wait4``). pages/s and CPU ms/page are of the crawl loop alone
  (wall clock and ``getrusage`` around it, reported by the child), so
  interpreter start-up and imports are left out; they are in the JSON as
  ``process_wall_s`` / ``process_cpu_s``.
* Pages = 200 responses for crawl URLs (robots.txt not counted). Every crawl
  must fetch exactly the site's ``crawled_pages`` and the same URL set (a
  SHA-1 of the sorted URLs) as every other crawl, or the benchmark breaks.
* Chain on vs off (``threaded.py crawler``): our ``Crawler`` in one process on
  ``demo.toml`` (start URL and max_pages changed), concurrency 16, pages to a
  gzipped WARC via ``PageWriter`` and outcomes to a file, as FetchPages does:
  (a) ``on``: demo.toml's defaults (robots, sizelimit, retry, redirect,
  cookies, charset; headers, useragent, proxy and httpcache are not
  configured and stay out); (b) ``off``: every built-in set to "none" in
  ``[middlewares]``; (c) ``prod``: defaults plus a 5-entry ``user_agents``
  list, a 3-cookie ``cookies_file`` and ``httpcache = false``. Also
  measured in-process: per worker thread, the CPU (``time.thread_time``) spent
  in ``MiddlewareManager.download`` minus that in the downloader's ``fetch``
  under it = what the chain itself costs per request.
* Threads vs asyncio: the same pages, fetch + link extraction + dedupe, no
  WARC. ``threads (Crawler)``: our Crawler, chain off, pages dropped,
  outcomes to /dev/null. ``threads (minimal)``: N threads on one queue with
  our ``HttpDownloader`` (urllib3 keep-alive) and ``extract_links``.
  ``asyncio (aiohttp)`` and ``asyncio+uvloop``: N tasks on one queue with one
  aiohttp session (keep-alive, N connections) and the same
  ``extract_links`` and dedupe, in ``var/bench/async-venv`` (created once:
  aiohttp, uvloop, and the project venv's lxml and w3lib versions; the repo
  on PYTHONPATH). Concurrency 1, 4, 16 and 64 on the site as it is, 16 and
  64 with ``--latency-ms``. These crawls start from home + every listing page: the
  demo site links its listings only page to page, so a crawl from home alone
  is bounded by that chain (listings x latency), whatever the concurrency.
* Noise check (as in bench/crawl_vs_scrapy): machine busy CPU (/proc/stat)
  during a crawl minus the crawler's and the demo server's is what other
  processes took; above 10 % of the crawl's wall time the run is NOISY. With
  ``--runs K`` every case runs K times, interleaved, and the least-disturbed
  run is reported; all runs go to ``var/bench/fetch_layer.json``. Before
  each crawl the run waits (up to ``--settle`` seconds) for a second in which
  the whole machine is less than a quarter of a core busy.

Exit status 0 when the benchmark ran, 1 when it broke.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "crawl_vs_scrapy"))

from harness import (  # noqa: E402 (harness also puts the repo on sys.path)
    REPO,
    BenchError,
    Server,
    _stop,
    bench_env,
    bench_spec,
    cpu_seconds,
    crawled_pages,
    demo_server,
    machine_busy_seconds,
    machine_info,
    products_for,
)
from measure import run_measured  # noqa: E402

from pipelines.demo.site import listing_pages  # noqa: E402
from pipelines.fetch.middleware import SHORT_NAMES  # noqa: E402

RESULTS = REPO / "var" / "bench" / "fetch_layer.json"
ASYNC_VENV = REPO / "var" / "bench" / "async-venv"
ASYNC_PACKAGES = ("aiohttp==3.14.5", "uvloop==0.23.0",
                  f"lxml=={importlib.metadata.version('lxml')}", f"w3lib=={importlib.metadata.version('w3lib')}")
NOISE = 0.10  # CPU of unrelated processes / crawl wall time above which a run is flagged
MB = 1024 * 1024
USER_AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
)
COOKIES = (("session", "3f1c9a0e5b7d4e21a8c6"), ("consent", "analytics=0&ads=0"), ("prefs", "currency=GBP"))

CHAINS = {"on": "all defaults (demo.toml)", "off": "every middleware \"none\"",
          "prod": "defaults + user_agents + cookies_file, httpcache off"}
DESIGNS = {
    "crawler": "threads (Crawler)",
    "minimal": "threads (minimal)",
    "asyncio": "asyncio (aiohttp)",
    "uvloop": "asyncio+uvloop (aiohttp)",
}


# -- the asyncio venv ----------------------------------------------------------
def async_venv() -> Path:
    """``var/bench/async-venv`` with aiohttp, uvloop, lxml, w3lib (created once, then reused)."""
    python = ASYNC_VENV / "bin" / "python"
    marker = ASYNC_VENV / (".ok-" + "-".join(p.replace("==", "_") for p in ASYNC_PACKAGES))
    if marker.exists() and python.exists():
        return python
    print(f"creating {ASYNC_VENV.relative_to(REPO)} with {' '.join(ASYNC_PACKAGES)} ...", flush=True)
    for argv in ([sys.executable, "-m", "venv", str(ASYNC_VENV)],
                 [str(ASYNC_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                  *ASYNC_PACKAGES]):
        if subprocess.run(argv, stdin=subprocess.DEVNULL).returncode != 0:
            raise BenchError(f"failed: {' '.join(argv)}")
    marker.touch()
    return python


# -- the site --------------------------------------------------------------------
@contextmanager
def site(products: int, latency_ms: float) -> Iterator[Server]:
    """harness.demo_server, or the same server with --latency-ms (which harness does not pass)."""
    if not latency_ms:
        with demo_server(products) as server:
            yield server
        return
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.demo.server", "--port", "0", "--products", str(products),
         "--latency-ms", f"{latency_ms:g}", "--quiet"],
        cwd=REPO, env=bench_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        match = re.search(r"at (http://\S+/)", line)
        if not match:
            raise BenchError(f"demo server did not start: {line!r}")
        yield Server(match.group(1), proc.pid)
    finally:
        _stop(proc)


def seeded_starts(base: str, products: int) -> list[str]:
    """Home and every listing page, so the pager chain does not bound the crawl."""
    return [base] + [f"{base}catalogue/page-{n}.html" for n in range(1, listing_pages(products) + 1)]


# -- specs -----------------------------------------------------------------------
def spec_text(start_urls: list[str], max_pages: int, concurrency: int, chain: str, work: Path) -> str:
    """demo.toml with our start URLs, max_pages, concurrency and middleware chain."""
    text = bench_spec(start_urls[0], max_pages)
    text = re.sub(r'(?m)^start_urls = .*$', "start_urls = " + json.dumps(start_urls), text)
    text, n = re.subn(r"(?m)^concurrency = \d+$", f"concurrency = {concurrency}", text)
    if n != 1 or "\n[fetch]\n" not in text:
        raise BenchError("demo.toml changed shape: update bench/fetch_layer/run.py spec_text")
    if chain == "off":
        text += "\n[middlewares]\n" + "".join(f'{name} = "none"\n' for name in SHORT_NAMES)
    elif chain == "prod":
        cookies = work / "cookies.txt"
        cookies.write_text("# Netscape HTTP Cookie File\n" + "".join(
            f"127.0.0.1\tFALSE\t/\tFALSE\t2000000000\t{k}\t{v}\n" for k, v in COOKIES), encoding="utf-8")
        extra = (f"user_agents = {json.dumps(list(USER_AGENTS))}\n"
                 f"cookies_file = {json.dumps(str(cookies))}\nhttpcache = false\n")
        text = text.replace("\n[fetch]\n", "\n[fetch]\n" + extra, 1)
    elif chain != "on":
        raise ValueError(chain)
    return text


# -- cases -----------------------------------------------------------------------
@dataclass
class Case:
    key: str
    group: str  # "chain" or "concurrency"
    design: str  # "crawler", "minimal", "asyncio", "uvloop"
    concurrency: int
    latency_ms: float
    chain: str | None = None  # crawler only
    warc: bool = False
    seeded: bool = True
    hooks: bool = False  # time every middleware hook (a separate run: its clocks cost CPU)

    @property
    def label(self) -> str:
        if self.group == "chain":
            return f"chain {self.chain}"
        if self.group == "hooks":
            return f"chain {self.chain}, per-hook clocks"
        return f"{DESIGNS[self.design]} c={self.concurrency} lat={self.latency_ms:g}ms"


def build_cases(args: argparse.Namespace) -> list[Case]:
    cases: list[Case] = []
    if args.only in (None, "chain"):
        for chain in CHAINS:
            cases.append(Case(f"chain-{chain}", "chain", "crawler", 16, 0.0, chain=chain, warc=True, seeded=False))
        for chain in ("on", "prod"):
            cases.append(Case(f"hooks-{chain}", "hooks", "crawler", 16, 0.0, chain=chain, warc=True, seeded=False,
                              hooks=True))
    if args.only in (None, "concurrency"):
        designs = [d for d in DESIGNS if d != "uvloop" or not args.no_uvloop]
        grid = [(0.0, c) for c in args.concurrency] + [(args.latency_ms, c) for c in args.latency_concurrency]
        for latency, conc in grid:
            for design in designs:
                cases.append(Case(f"{design}-c{conc}-l{latency:g}", "concurrency", design, conc, latency,
                                  chain="off" if design == "crawler" else None))
    return cases


def case_argv(case: Case, server_url: str, products: int, pages: int, work: Path, async_python: Path | None
              ) -> tuple[list[str], dict[str, str]]:
    env = bench_env()
    starts = seeded_starts(server_url, products) if case.seeded else [server_url]
    result = work / "result.json"
    if case.design == "crawler":
        spec = work / "bench.toml"
        spec.write_text(spec_text(starts, pages * 10, case.concurrency, case.chain or "on", work), encoding="utf-8")
        argv = [sys.executable, str(HERE / "threaded.py"), "crawler", "--spec", str(spec),
                "--concurrency", str(case.concurrency), "--result", str(result)]
        if case.warc:
            argv += ["--warc", str(work / "pages.warc.gz"), "--outcomes", str(work / "urls.jsonl"), "--instrument"]
        if case.hooks:
            argv.append("--hooks")
        return argv, env
    # The minimal loops get the demo spec's scope rule on the command line.
    import tomllib

    demo = tomllib.loads(bench_spec(server_url, pages * 10))
    scope = [*(a for d in demo["allowed_domains"] for a in ("--allowed", d)),
             *(a for p in demo["follow"] for a in ("--follow", p)), "--item-pages", demo["item_pages"],
             "--concurrency", str(case.concurrency), "--timeout", str(demo["fetch"]["timeout"]),
             "--result", str(result), *(a for s in starts for a in ("--start", s))]
    if case.design == "minimal":
        return [sys.executable, str(HERE / "threaded.py"), "minimal", *scope], env
    assert async_python is not None
    env["PYTHONPATH"] = str(REPO)
    return [str(async_python), str(HERE / "async_crawl.py"), *scope,
            *(["--uvloop"] if case.design == "uvloop" else [])], env


@dataclass
class Run:
    case: Case
    pages: int
    crawl_wall_s: float
    crawl_cpu_s: float
    process_wall_s: float
    process_cpu_s: float
    peak_rss_mb: float
    server_cpu_s: float
    others_cpu_s: float
    child: dict[str, Any] = field(default_factory=dict)

    @property
    def pages_per_s(self) -> float:
        return self.pages / self.crawl_wall_s

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.crawl_cpu_s / self.pages

    @property
    def noise(self) -> float:
        return self.others_cpu_s / self.process_wall_s

    @property
    def noisy(self) -> bool:
        return self.noise > NOISE

    @property
    def chain_us_per_request(self) -> float | None:
        chain = self.child.get("chain")
        return 1e6 * chain["chain_cpu_s"] / chain["requests"] if chain else None

    def as_dict(self) -> dict[str, Any]:
        child = {k: v for k, v in self.child.items() if k not in ("pages", "crawl_wall_s", "crawl_cpu_s")}
        return {
            "case": self.case.key, "label": self.case.label, "group": self.case.group, "design": self.case.design,
            "concurrency": self.case.concurrency, "latency_ms": self.case.latency_ms, "chain": self.case.chain,
            "pages": self.pages, "crawl_wall_s": self.crawl_wall_s, "crawl_cpu_s": self.crawl_cpu_s,
            "pages_per_s": round(self.pages_per_s, 1), "cpu_ms_per_page": round(self.cpu_ms_per_page, 4),
            "chain_us_per_request": None if self.chain_us_per_request is None
            else round(self.chain_us_per_request, 1),
            "process_wall_s": self.process_wall_s, "process_cpu_s": self.process_cpu_s,
            "peak_rss_mb": self.peak_rss_mb, "server_cpu_s": self.server_cpu_s,
            "others_cpu_s": self.others_cpu_s, "noisy": self.noisy, "child": child,
        }


def settle(limit_s: float, idle_below: float = 0.25) -> float:
    """Wait (at most ``limit_s``) for a second in which the whole machine is busy for less than
    ``idle_below`` of one core: other sessions share this machine. Returns the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < limit_s:
        busy = machine_busy_seconds()
        time.sleep(1.0)
        if machine_busy_seconds() - busy < idle_below:
            break
    return time.monotonic() - started


def run_case(case: Case, products: int, pages: int, work: Path, async_python: Path | None,
             reference: dict[str, str]) -> Run:
    work.mkdir(parents=True)
    log = work / "child.log"
    with site(products, case.latency_ms) as server:
        argv, env = case_argv(case, server.url, products, pages, work, async_python)
        server_cpu, busy = cpu_seconds(server.pid), machine_busy_seconds()
        with open(log, "wb") as log_fh:
            m = run_measured(argv, cwd=REPO, env=env, log=log_fh)
        server_cpu = cpu_seconds(server.pid) - server_cpu
        others = machine_busy_seconds() - busy - m.cpu_s - server_cpu
    if m.returncode != 0:
        raise BenchError(f"{case.label} exited with {m.returncode}; log tail:\n"
                         f"{log.read_text(errors='replace')[-3000:]}")
    child = json.loads((work / "result.json").read_text(encoding="utf-8"))
    expected = crawled_pages(products)
    if child["pages"] != expected or child.get("failed"):
        raise BenchError(f"{case.label}: {child['pages']} pages fetched, expected {expected}; "
                         f"failures {child.get('failed_by_reason')}")
    if case.group == "chain" and case.chain == "off" and child.get("enabled_middlewares"):
        raise BenchError(f"chain off still has middlewares: {child['enabled_middlewares']}")
    # Every crawl must fetch the same pages (servers differ in port: compare paths).
    if reference.setdefault("paths_digest", child["paths_digest"]) != child["paths_digest"]:
        raise BenchError(f"{case.label} fetched another set of pages than the first crawl")
    return Run(case, child["pages"], child["crawl_wall_s"], child["crawl_cpu_s"], round(m.wall_s, 3),
               round(m.cpu_s, 3), round(m.peak_rss_bytes / MB, 1), round(server_cpu, 2), round(others, 2), child)


# -- report ----------------------------------------------------------------------
def least_disturbed(runs: list[Run]) -> Run:
    return min(runs, key=lambda r: r.noise)


def _fmt_rows(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(header)]
    line = lambda cells: "  ".join(c.ljust(w) if i == 0 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths, strict=True)))
    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(r) for r in rows)])


def _spread(runs: list[Run], value: Callable[[Run], float], fmt: str) -> str:
    values = [value(r) for r in runs]
    return format(values[0], fmt) if len(values) == 1 else f"{min(values):{fmt}}-{max(values):{fmt}}"


def chain_report(chosen: dict[str, Run], runs: dict[str, list[Run]]) -> tuple[str, dict[str, Any]]:
    keys = [k for k in (f"chain-{c}" for c in CHAINS) if k in chosen]
    if not keys:
        return "", {}
    rows = []
    for key in keys:
        r = chosen[key]
        enabled = r.child.get("enabled_middlewares") or []
        rows.append([CHAINS[r.case.chain or ""] + f" [{r.case.chain}]", str(len(enabled)), str(r.pages),
                     f"{r.crawl_wall_s:.2f}", f"{r.pages_per_s:.0f}", f"{r.cpu_ms_per_page:.3f}",
                     f"{r.chain_us_per_request:.1f}", f"{r.peak_rss_mb:.1f}",
                     f"{r.others_cpu_s:.1f}" + (" NOISY" if r.noisy else ""),
                     _spread(runs[key], lambda x: x.pages_per_s, ".0f"),
                     _spread(runs[key], lambda x: x.cpu_ms_per_page, ".3f")])
    table = _fmt_rows(["chain", "mw", "pages", "wall s", "pages/s", "CPU ms/page", "chain µs/req",
                       "peak RSS MB", "others CPU s", "pages/s all runs", "CPU ms/page all runs"], rows)
    lines = [table, ""]
    ratios: dict[str, Any] = {}
    off = chosen.get("chain-off")
    if off:
        for other in ("on", "prod"):
            r = chosen.get(f"chain-{other}")
            if r is None:
                continue
            ratios[f"{other}_over_off"] = {
                "pages_per_s": round(r.pages_per_s / off.pages_per_s, 3),
                "cpu_ms_per_page": round(r.cpu_ms_per_page / off.cpu_ms_per_page, 3),
                "chain_us_per_request": round((r.chain_us_per_request or 0) - (off.chain_us_per_request or 0), 1),
            }
            q = ratios[f"{other}_over_off"]
            a, b = runs[f"chain-{other}"], runs["chain-off"]
            overlap = (max(x.pages_per_s for x in a) >= min(x.pages_per_s for x in b)
                       and max(x.pages_per_s for x in b) >= min(x.pages_per_s for x in a))
            q["pages_per_s_ranges_overlap"] = overlap
            lines.append(f"{other} ÷ off: pages/s {q['pages_per_s']:.2f}, CPU ms/page {q['cpu_ms_per_page']:.2f}"
                         + (" (pages/s ranges of the runs overlap: within run-to-run noise)" if overlap else "")
                         + f"; the chain itself: +{q['chain_us_per_request']:.0f} µs CPU per request "
                         f"({q['chain_us_per_request'] / 10 / off.cpu_ms_per_page:.1f} % of a page's CPU)")
        for r in (chosen[k] for k in keys):
            enabled = [m.split()[-1] for m in r.child.get("enabled_middlewares") or []]
            lines.append(f"enabled [{r.case.chain}]: {', '.join(enabled) or 'none'}")
    for chain in ("on", "prod"):
        r = chosen.get(f"hooks-{chain}")
        if r is None:
            continue
        by_middleware: dict[str, float] = {}
        for hook, value in r.child["chain"]["by_hook"].items():
            name = hook.split(".")[0].removesuffix("Middleware")
            by_middleware[name] = by_middleware.get(name, 0.0) + value["cpu_s"]
        requests = r.child["chain"]["requests"]
        per = {name: 1e6 * cpu / requests for name, cpu in by_middleware.items()}
        ratios[f"by_middleware_{chain}_us_per_request"] = {k: round(v, 1) for k, v in per.items()}
        lines.append(f"per middleware [{chain}], µs CPU per request (separate run with a clock on every hook, "
                     f"total {sum(per.values()):.0f}): "
                     + ", ".join(f"{k} {v:.1f}" for k, v in sorted(per.items(), key=lambda kv: -kv[1])))
    return "\n".join(lines), ratios


def concurrency_report(chosen: dict[str, Run], runs: dict[str, list[Run]]) -> tuple[str, list[dict[str, Any]]]:
    mine = [r for r in chosen.values() if r.case.group == "concurrency"]
    if not mine:
        return "", []
    mine.sort(key=lambda r: (r.case.latency_ms, r.case.concurrency, list(DESIGNS).index(r.case.design)))
    rows, out = [], []
    for r in mine:
        rows.append([f"{r.case.latency_ms:g}", str(r.case.concurrency), DESIGNS[r.case.design],
                     f"{r.pages_per_s:.0f}", f"{r.cpu_ms_per_page:.3f}", f"{r.crawl_cpu_s / r.crawl_wall_s:.2f}",
                     f"{100 * r.server_cpu_s / r.crawl_wall_s:.0f}", f"{r.peak_rss_mb:.1f}",
                     f"{r.others_cpu_s:.1f}" + (" NOISY" if r.noisy else ""),
                     _spread(runs[r.case.key], lambda x: x.pages_per_s, ".0f")])
        out.append(r.as_dict())
    table = _fmt_rows(["latency ms", "conc", "design", "pages/s", "CPU ms/page", "client cores", "server busy %",
                       "peak RSS MB", "others CPU s", "pages/s all runs"], rows)
    return table, out


SHORT = {"crawler": "Crawler", "minimal": "threads", "asyncio": "asyncio", "uvloop": "uvloop"}


def _x(values: list[float]) -> str:
    return "/".join(f"{v:.2f}" for v in values) + "x"


def conclusion(chosen: dict[str, Run], latency_ms: float) -> str:
    """One paragraph from the figures: which design is better where."""
    by = {(r.case.design, r.case.latency_ms, r.case.concurrency): r
          for r in chosen.values() if r.case.group == "concurrency"}
    if not by:
        return ""
    cpu_concs = sorted({c for (_, lat, c) in by if lat == 0})
    lat_concs = sorted({c for (_, lat, c) in by if lat and lat == latency_ms})

    def ratio(a: str, b: str, lat: float, concs: list[int], metric: Callable[[Run], float]) -> list[float]:
        return [metric(by[a, lat, c]) / metric(by[b, lat, c]) for c in concs if (a, lat, c) in by and (b, lat, c) in by]

    def verdict(values: list[float], a: str, b: str) -> str:
        mean = statistics.mean(values)
        if mean > 1.1:
            return f"{a} ahead"
        if mean < 1 / 1.1:
            return f"{b} ahead"
        return "level (within 10 %)"

    parts = []
    speed = ratio("asyncio", "minimal", 0.0, cpu_concs, lambda r: r.pages_per_s)
    cpu = ratio("minimal", "asyncio", 0.0, cpu_concs, lambda r: r.cpu_ms_per_page)
    if speed:
        parts.append(
            f"CPU-bound (local site, no latency, concurrency {'/'.join(map(str, cpu_concs))}): aiohttp on asyncio "
            f"made {_x(speed)} the pages/s of the minimal threaded loop (urllib3), which spent {_x(cpu)} asyncio's "
            f"CPU per page: {verdict(speed, 'asyncio', 'threads')}")
    uv = ratio("uvloop", "asyncio", 0.0, cpu_concs, lambda r: r.pages_per_s)
    if uv:
        parts.append(f"uvloop changed asyncio's pages/s by {_x(uv)}")
    many = [c for c in cpu_concs if c > 1]
    if 1 in cpu_concs and many and all(("minimal", 0.0, c) in by and ("asyncio", 0.0, c) in by for c in cpu_concs):
        t1, a1 = by["minimal", 0.0, 1].cpu_ms_per_page, by["asyncio", 0.0, 1].cpu_ms_per_page
        tn = [by["minimal", 0.0, c].cpu_ms_per_page for c in many]
        an = [by["asyncio", 0.0, c].cpu_ms_per_page for c in many]
        parts.append(
            f"at concurrency 1 the threaded loop costs {t1:.2f} ms of CPU per page and asyncio {a1:.2f} ms (the "
            f"HTTP stacks alone: urllib3 + http.client vs aiohttp's C parser); at concurrency "
            f"{'/'.join(map(str, many))} threads cost {'/'.join(f'{v:.2f}' for v in tn)} ms and asyncio "
            f"{'/'.join(f'{v:.2f}' for v in an)} ms, so "
            + ("most of the gap comes with more threads (GIL hand-offs between runnable threads), not from the "
               "HTTP library" if max(tn) - t1 > abs(t1 - a1) else "most of the gap is the HTTP library"))
    crawler = ratio("crawler", "minimal", 0.0, cpu_concs, lambda r: r.pages_per_s)
    if crawler:
        parts.append(f"our full Crawler (coordinator, politeness, outcome lines; chain off) ran at {_x(crawler)} "
                     "the minimal threaded loop, so the coordinator is not what separates threads from asyncio")
    if lat_concs:
        reach = "; ".join(
            f"c={c} (ceiling {c * 1000 / latency_ms:.0f}): " + ", ".join(
                f"{SHORT[d]} {by[d, latency_ms, c].pages_per_s:.0f}" for d in DESIGNS if (d, latency_ms, c) in by)
            for c in lat_concs)
        lat_speed = ratio("asyncio", "minimal", latency_ms, lat_concs, lambda r: r.pages_per_s)
        lat_cpu = ratio("minimal", "asyncio", latency_ms, lat_concs, lambda r: r.cpu_ms_per_page)
        parts.append(f"latency-bound ({latency_ms:g} ms per response; ceiling = concurrency / latency) pages/s: "
                     f"{reach}; asyncio ÷ threads = {_x(lat_speed)} in pages/s, threads ÷ asyncio = {_x(lat_cpu)} "
                     f"in CPU per page: {verdict(lat_speed, 'asyncio', 'threads')} on throughput")
    rss = {d: max(r.peak_rss_mb for (dd, _, _), r in by.items() if dd == d) for d in DESIGNS
           if any(dd == d for (dd, _, _) in by)}
    parts.append("peak RSS (largest case): " + ", ".join(f"{SHORT[d]} {v:.0f} MB" for d, v in rss.items()))
    return ". ".join(p[0].upper() + p[1:] for p in parts) + "."


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=5000, help="pages per crawl (default 5000)")
    parser.add_argument("--runs", type=int, default=1,
                        help="run each case this many times (interleaved) and report the least-disturbed run")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="latency of the remote-site cases")
    parser.add_argument("--concurrency", type=_ints, default=[1, 4, 16, 64],
                        help="concurrencies of the no-latency cases (default 1,4,16,64; '' for none)")
    parser.add_argument("--latency-concurrency", type=_ints, default=[16, 64],
                        help="concurrencies of the latency cases (default 16,64; '' for none)")
    parser.add_argument("--only", choices=("chain", "concurrency"), help="run one half only")
    parser.add_argument("--no-uvloop", action="store_true", help="leave out the asyncio+uvloop rows")
    parser.add_argument("--settle", type=float, default=30.0,
                        help="before each crawl, wait up to this many seconds for a quiet second (machine busy "
                             "< 0.25 core); 0: don't wait (default 30)")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (WARCs, logs)")
    parser.add_argument("--json", type=Path, default=RESULTS,
                        help=f"write the results here (default {RESULTS.relative_to(REPO)})")
    args = parser.parse_args(argv)
    if args.pages < 100 or args.runs < 1:
        parser.error("--pages must be >= 100 and --runs >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)
    machine = machine_info()
    products = products_for(args.pages)
    pages = crawled_pages(products)
    cases = build_cases(args)
    tmp = Path(tempfile.mkdtemp(prefix="fetch-layer-"))
    runs: dict[str, list[Run]] = {c.key: [] for c in cases}
    reference: dict[str, str] = {}
    try:
        async_python = async_venv() if any(c.design in ("asyncio", "uvloop") for c in cases) else None
        for i in range(1, args.runs + 1):
            for n, case in enumerate(cases, 1):
                if case.group == "hooks" and i > 1:
                    continue  # attribution only: once is enough
                waited = settle(args.settle) if args.settle else 0.0
                print(f"run {i}/{args.runs}, case {n}/{len(cases)}: {case.label} "
                      f"(waited {waited:.0f} s for a quiet machine) ...", end=" ", flush=True)
                run = run_case(case, products, pages, tmp / f"{i}-{case.key}", async_python, reference)
                runs[case.key].append(run)
                print(f"{run.pages_per_s:.0f} pages/s, {run.cpu_ms_per_page:.3f} CPU ms/page, "
                      f"{run.peak_rss_mb:.0f} MB, others {run.others_cpu_s:.1f} CPU s"
                      + (" NOISY" if run.noisy else ""), flush=True)
                time.sleep(0.5)
    except BenchError as exc:
        print(f"\nBENCHMARK BROKE: {exc}\n(temp dir kept: {tmp})", file=sys.stderr)
        return 1
    chosen = {key: least_disturbed(rs) for key, rs in runs.items()}
    versions = {p: importlib.metadata.version(p) for p in ("urllib3", "lxml", "w3lib", "warcio")}
    versions.update({p.split("==")[0] + " (async-venv)": p.split("==")[1] for p in ASYNC_PACKAGES})
    print(f"\nmachine: {machine['nproc']} CPUs ({machine['cpu_model']}), {machine['ram_gib']} GiB RAM, "
          f"Python {machine['python']}, {machine['date']}, load average before {machine['load_avg_1m_before']}")
    print(f"site: {products} products = {pages} pages per crawl; {args.runs} run(s) per case, least disturbed shown")
    chain_text, ratios = chain_report(chosen, runs)
    if chain_text:
        print("\n== Middleware chain on vs off (Crawler, concurrency 16, WARC + outcomes, crawl from home) ==\n")
        print(chain_text)
    conc_text, conc_rows = concurrency_report(chosen, runs)
    summary = conclusion(chosen, args.latency_ms)
    if conc_text:
        print("\n== Threads vs asyncio (fetch + links + dedupe, no WARC, seeded with every listing) ==\n")
        print(conc_text)
        print("\n" + summary)
    noisy = [r.case.label for r in chosen.values() if r.noisy]
    if noisy:
        print(f"\nNOISY (other processes took > {NOISE:.0%} of a crawl's wall time): {', '.join(noisy)}; re-run")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({
        "command": "bench/fetch_layer/run.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": machine, "versions": versions, "products": products, "pages": pages,
        "chain": {"results": [chosen[k].as_dict() for k in chosen if chosen[k].case.group == "chain"],
                  "ratios": ratios},
        "concurrency": {"results": conc_rows, "conclusion": summary},
        "all_runs": {key: [r.as_dict() for r in rs] for key, rs in runs.items()},
    }, indent=2) + "\n", encoding="utf-8")
    print(f"\nresults written to {args.json}")
    if args.keep:
        print(f"temp dir kept: {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
