"""Browser rendering: a pool of reused drivers vs a new driver per page.

Usage (from the repository root)::

    .venv/bin/python bench/browser_pool/run.py [--pages 100] [--threads 2]

Method
------
* Site: ``pipelines.demo.server`` (a separate process) with 500 products;
  pages are ``/catalogue/product-N.html`` for N = 1..pages, every response is
  checked (status 200 and the product's title in the rendered DOM).
* Pool: ``BrowserDownloader(pool_size=2)``, ``--threads`` threads fetching
  from one shared queue; drivers start lazily and are reused.
* New driver per page: the same downloader with ``max_pages_per_driver=1``
  (start chromedriver + chromium, fetch, ``quit()`` and wait for chromium's
  processes to exit, for every page), same threads, so both sides run exactly
  the same code and at most 2 browsers at a time.
* Wall time per mode: from creating the downloader to ``close()`` returned
  (driver start-up and shutdown included). pages/s = pages / wall.
  Also reported: driver starts, and the mean per-page latency
  (``Response.elapsed``, navigation to DOM read, without driver start).
* One run of each mode, pool first, on the same machine; the reaper's /proc
  scan before the first driver is part of both.

Results also go to ``var/bench/browser_pool.json``. Exit status 1 when a page
was wrong or the run broke.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import queue
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

import parsel  # noqa: E402
import selenium  # noqa: E402

from pipelines.demo.site import product  # noqa: E402
from pipelines.fetch.browser import BrowserDownloader, BrowserSettings  # noqa: E402
from pipelines.fetch.http import Request, Response  # noqa: E402

RESULTS = REPO / "var/bench/browser_pool.json"


def machine_info() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text().splitlines()
    cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    chromium = subprocess.run(["/usr/bin/chromium", "--version"], capture_output=True, text=True).stdout.strip()
    return {
        "nproc": os.cpu_count(), "cpu_model": cpu, "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(), "selenium": selenium.__version__, "chromium": chromium,
        "load_average_at_start": os.getloadavg(),
    }


def start_site(products: int) -> tuple[subprocess.Popen, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.demo.server", "--port", "0", "--products", str(products), "--quiet"],
        cwd=REPO, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()
    if "http://" not in line:
        proc.kill()
        raise SystemExit(f"demo site did not start: {line!r}")
    return proc, line.strip().split(" at ")[-1]


def run_mode(name: str, settings: BrowserSettings, site: str, pages: int, threads: int) -> dict[str, Any]:
    todo: queue.Queue[int] = queue.Queue()
    for pid in range(1, pages + 1):
        todo.put(pid)
    results: dict[int, Response | BaseException] = {}

    started = time.monotonic()
    browser = BrowserDownloader(settings)

    def work() -> None:
        while True:
            try:
                pid = todo.get_nowait()
            except queue.Empty:
                return
            try:
                results[pid] = browser.fetch(Request(f"{site}catalogue/product-{pid}.html"))
            except Exception as exc:  # noqa: BLE001 - counted as a wrong page below
                results[pid] = exc

    workers = [threading.Thread(target=work) for _ in range(threads)]
    try:
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    finally:
        browser.close()
    wall = time.monotonic() - started

    wrong = []
    latencies = []
    for pid in range(1, pages + 1):
        got = results.get(pid)
        if not isinstance(got, Response) or got.status != 200 or \
                parsel.Selector(text=got.body.decode()).css("h1::text").get() != product(pid)["title"]:
            wrong.append((pid, repr(got)[:200]))
        else:
            latencies.append(got.elapsed)
    return {
        "mode": name, "pages": pages, "threads": threads, "pool_size": settings.pool_size,
        "max_pages_per_driver": settings.max_pages_per_driver, "wall_s": round(wall, 3),
        "pages_per_s": round(pages / wall, 2), "driver_starts": browser.drivers_started,
        "mean_page_latency_ms": round(1000 * sum(latencies) / max(1, len(latencies)), 1),
        "wrong_pages": len(wrong), "first_wrong": wrong[:3],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    run_dir = REPO / "var/bench/browser_pool-run"
    shutil.rmtree(run_dir, ignore_errors=True)
    info = machine_info()
    site_proc, site = start_site(500)
    try:
        pool = run_mode("pool", BrowserSettings(pool_size=2, run_dir=run_dir), site, args.pages, args.threads)
        fresh = run_mode("new driver per page",
                         BrowserSettings(pool_size=2, max_pages_per_driver=1, run_dir=run_dir),
                         site, args.pages, args.threads)
    finally:
        site_proc.terminate()
        site_proc.wait()
    ratio = pool["pages_per_s"] / fresh["pages_per_s"]

    width = 22
    print(f"{'':{width}} {'pool (2 reused)':>18} {'new driver/page':>18}")
    for key, label in (("pages", "pages"), ("wall_s", "wall s"), ("pages_per_s", "pages/s"),
                       ("driver_starts", "driver starts"), ("mean_page_latency_ms", "page latency ms"),
                       ("wrong_pages", "wrong pages")):
        print(f"{label:{width}} {pool[key]:>18} {fresh[key]:>18}")
    print(f"{'pool / new-per-page':{width}} {ratio:>18.1f}x")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "benchmark": "browser_pool", "date": time.strftime("%Y-%m-%d"), "machine": info,
        "results": [pool, fresh], "ratio_pages_per_s": round(ratio, 2),
    }, indent=2) + "\n")
    print(f"results: {RESULTS.relative_to(REPO)}")
    shutil.rmtree(run_dir, ignore_errors=True)
    return 1 if pool["wrong_pages"] or fresh["wrong_pages"] else 0


if __name__ == "__main__":
    sys.exit(main())
