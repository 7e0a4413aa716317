"""What the benchmark runs around the crawlers: the Scrapy venv, the demo
server, luigid and its config, the crawl spec, and machine facts."""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipelines.demo.site import site_pages  # noqa: E402

SCRAPY_VERSION = "2.19.0"
SCRAPY_VENV = REPO / "var" / "bench" / "scrapy-venv"
DEMO_SPEC = REPO / "pipelines" / "crawls" / "demo.toml"
REPO_CFG = REPO / "luigi.cfg"


class BenchError(RuntimeError):
    """The benchmark itself broke (as opposed to a target being missed)."""


# -- sizes -------------------------------------------------------------------
def crawled_pages(products: int) -> int:
    """Pages the demo spec fetches on a site of ``products`` products.

    ``site_pages`` counts home + listings + products + the JS page; the spec's
    ``follow``/``item_pages`` rules do not match the JS page, so neither crawler
    fetches it.
    """
    return site_pages(products) - 1


def products_for(pages: int) -> int:
    """The largest catalogue whose crawl fetches at most ``pages`` pages."""
    lo, hi = 1, pages
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if crawled_pages(mid) <= pages:
            lo = mid
        else:
            hi = mid - 1
    return lo


# -- the Scrapy venv ---------------------------------------------------------
def scrapy_venv() -> Path:
    """``var/bench/scrapy-venv`` with Scrapy installed (created once, then reused)."""
    marker = SCRAPY_VENV / f".scrapy-{SCRAPY_VERSION}"
    scrapy = SCRAPY_VENV / "bin" / "scrapy"
    if marker.exists() and scrapy.exists():
        return scrapy
    print(f"creating {SCRAPY_VENV.relative_to(REPO)} with scrapy=={SCRAPY_VERSION} ...", flush=True)
    _check_call(["python3", "-m", "venv", str(SCRAPY_VENV)])
    _check_call([str(SCRAPY_VENV / "bin" / "pip"), "install", "--quiet", "--disable-pip-version-check",
                 f"scrapy=={SCRAPY_VERSION}"])
    marker.touch()
    return scrapy


def _check_call(argv: list[str]) -> None:
    if subprocess.run(argv, stdin=subprocess.DEVNULL).returncode != 0:
        raise BenchError(f"failed: {' '.join(argv)}")


# -- processes ---------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def bench_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LUIGI_", "CRAWL_"))}
    env["TZ"] = "UTC"
    return env


def _stop(proc: subprocess.Popen[bytes], timeout: float = 15) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Server(NamedTuple):
    url: str
    pid: int


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used so far."""
    stat = (Path("/proc") / str(pid) / "stat").read_bytes()
    fields = stat[stat.rfind(b")") + 2:].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs have spent busy since boot (idle and iowait excluded)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


@contextmanager
def demo_server(products: int) -> Iterator[Server]:
    """A fresh demo server process (empty response cache)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "pipelines.demo.server", "--port", "0", "--products", str(products), "--quiet"],
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


def export_code(rev: str, dest: Path) -> Path:
    """``pipelines/`` and ``luigi.cfg`` of git revision ``rev``, extracted into ``dest``.

    Run a worker with ``dest`` as its working directory to measure committed
    code, not a work tree that other people are editing. ``dest`` is returned.
    """
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev, "pipelines", "luigi.cfg"],
                             capture_output=True, stdin=subprocess.DEVNULL)
    if archive.returncode != 0:
        raise BenchError(f"git archive {rev} failed: {archive.stderr.decode(errors='replace').strip()}")
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    return dest


def code_label(rev: str) -> str:
    """What a bench ran: "HEAD = abc1234", or "work tree" (and whether pipelines/ or luigi.cfg had edits)."""
    if rev == "worktree":
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "pipelines", "luigi.cfg"],
                               capture_output=True, text=True).stdout.strip()
        return "work tree" + (" (with uncommitted changes in pipelines/ or luigi.cfg)" if dirty else "")
    sha = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", rev], capture_output=True, text=True)
    return f"{rev} = {sha.stdout.strip()}"


def luigi_cfg(tmp: Path, port: int, source: Path = REPO_CFG) -> str:
    """``source`` (the repo's luigi.cfg) with every path moved into ``tmp`` and our port."""
    text = source.read_text(encoding="utf-8")
    replacements = {
        # luigi reads [core] scheduler_port, or the older default_scheduler_port.
        ("core", "scheduler_port"): str(port),
        ("core", "default_scheduler_port"): str(port),
        ("scheduler", "state_path"): str(tmp / "luigid" / "state.pickle"),
        ("task_history", "db_connection"): f"sqlite:///{tmp / 'history.db'}",
        ("crawl", "spec_dirs"): str(tmp / "crawls"),
        ("crawl", "data_dir"): str(tmp / "data"),
        ("store", "db_connection"): f"sqlite:///{tmp / 'items.db'}",
    }
    out, section, seen = [], "", set()
    for line in text.splitlines():
        header = re.match(r"\[(\w+)\]", line)
        if header:
            section = header.group(1)
        key = line.split("=", 1)[0].strip()
        if (section, key) in replacements:
            line = f"{key} = {replacements[section, key]}"
            seen.add((section, key))
        out.append(line)
    port_keys = {("core", "scheduler_port"), ("core", "default_scheduler_port")}
    if set(replacements) - port_keys - seen or not seen & port_keys:
        raise BenchError(f"luigi.cfg lacks some of {sorted(replacements)}: update harness.luigi_cfg")
    return "\n".join(out) + "\n"


def bench_spec(start_url: str, max_pages: int, source: Path = DEMO_SPEC) -> str:
    """demo.toml (``source``) with our server's start URL and a max_pages that never binds."""
    text = source.read_text(encoding="utf-8")
    text = re.sub(r'(?m)^name = .*$', 'name = "bench"', text)
    text = re.sub(r'(?m)^start_urls = .*$', f'start_urls = ["{start_url}"]', text)
    text = re.sub(r'(?m)^max_pages = .*$', f"max_pages = {max_pages}", text)
    if start_url not in text or f"max_pages = {max_pages}" not in text:
        raise BenchError("demo.toml changed shape: update harness.bench_spec")
    return text


@contextmanager
def luigid(cfg: Path, port: int, logfile: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A luigid on 127.0.0.1:``port`` reading ``cfg``; ready when yielded."""
    env = {**bench_env(), "LUIGI_CONFIG_PATH": str(cfg)}
    with open(logfile, "wb") as log:
        proc = subprocess.Popen([str(Path(sys.executable).parent / "luigid"), "--address", "127.0.0.1",
                                 "--port", str(port)], cwd=REPO, env=env, stdin=subprocess.DEVNULL,
                                stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/api/task_list", proc, logfile, timeout=30)
        yield proc
    finally:
        _stop(proc)


class _KeepRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None  # a redirect is an answer; following it (maybe to https://) is not our business


_NO_REDIRECTS = urllib.request.build_opener(_KeepRedirects)


def wait_http(url: str, proc: subprocess.Popen[bytes], logfile: Path, timeout: float = 60) -> None:
    """Wait until the server behind `url` answers HTTP at all (a 503 from /healthz counts: it is up).

    BenchError if `proc` exits or time runs out.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"{url}: the server exited with {proc.returncode}: {logfile.read_text()[-2000:]}")
        try:
            with _NO_REDIRECTS.open(url, timeout=2):
                return
        except urllib.error.HTTPError:  # any answer, a redirect or a 503 included, means it is up
            return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise BenchError(f"{url} did not answer within {timeout:.0f} s")


# -- machine -----------------------------------------------------------------
def machine_info() -> dict[str, object]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor() or "unknown")
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal:"))
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_model": cpu,
        "ram_gib": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_avg_1m_before": round(os.getloadavg()[0], 2),
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
