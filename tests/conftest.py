"""Shared test fixtures: real luigid, real demo site, real databases.

Servers are module-scoped (started once per test module) and bound to
127.0.0.1 on free ports. Tests marked `postgres`, `mariadb`, `browser`,
`prometheus`, `scrapy` (the optional extra, requirements-scrapy.txt) or
`netns` (worker hosts as network namespaces, tests/cluster/: needs root)
skip with the reason when the service is missing, except when
CRAWLOPS_REQUIRE_SERVICES=1 (set by .ci/run): then a skip is a failure.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipelines.fetch.settings import FetchSettings

ROOT = Path(__file__).resolve().parent.parent
FETCH_KEYS = {f.name for f in dataclasses.fields(FetchSettings)}
PYTHON = sys.executable
# Fixtures of shared scenarios, for every test module that asks for them by name.
pytest_plugins = ["tests.quality_site"]
REQUIRED_MARKERS = ("postgres", "mariadb", "browser", "prometheus", "scrapy", "netns")
PG_ADMIN = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
MARIADB_ADMIN = os.environ.get("TEST_MARIADB_URL", "mysql://root@127.0.0.1:3306/test")


def pytest_configure(config: pytest.Config) -> None:
    for marker in REQUIRED_MARKERS:
        config.addinivalue_line("markers", f"{marker}: needs a real {marker}; CI fails if it is skipped")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CRAWLOPS_REQUIRE_SERVICES") == "1":
        needed = [m for m in REQUIRED_MARKERS if item.get_closest_marker(m)]
        if needed:
            report.outcome = "failed"
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            report.longrepr = f"required service ({', '.join(needed)}) was skipped: {reason}"


def _ephemeral_low() -> int:
    try:
        return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port() -> int:
    """A free port below the kernel's ephemeral range.

    bind(0) hands out ports from the ephemeral range, which is also where every
    outgoing connection (to PostgreSQL, to a test server) takes its local port;
    a port chosen at collection and used minutes later can be taken by then.
    Below that range only servers bind, and they bind what they were given.
    """
    import random

    low = _ephemeral_low()
    for _ in range(200):
        port = random.randrange(10000, max(low, 10001))
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout}s")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the demo site ------------------------------------------------------------

@dataclass
class DemoSite:
    url: str
    port: int
    products: int
    proc: subprocess.Popen


def start_demo_site(products: int, latency_ms: int = 0, layout_file: Path | None = None) -> DemoSite:
    """The demo site in a subprocess; with `layout_file`, its layout is what that file says (v1, v2) at each request."""
    layout = ["--layout-file", str(layout_file)] if layout_file is not None else []
    proc = subprocess.Popen(
        [PYTHON, "-m", "pipelines.demo.server", "--port", "0", "--products", str(products),
         "--latency-ms", str(latency_ms), "--quiet", *layout],
        cwd=ROOT, stdout=subprocess.PIPE, text=True,
    )
    line = proc.stdout.readline()  # "demo site serving N products at http://127.0.0.1:PORT/"
    if "http://" not in line:
        stop(proc)
        raise RuntimeError(f"demo site did not start: {line!r}")
    url = line.strip().split(" at ")[-1]
    return DemoSite(url, int(url.rstrip("/").rsplit(":", 1)[1]), products, proc)


@pytest.fixture(autouse=True)
def _django_language_and_zone_reset() -> Iterator[None]:
    """A request with Accept-Language (Django's test client) leaves its language and time zone active in
    the test's thread: the next test, whatever its module, would read zh-Hant sentences. Reset after each."""
    yield
    if "django.utils.translation" in sys.modules and "django.conf" in sys.modules:
        from django.conf import settings  # noqa: PLC0415 - only where Django is in use

        if settings.configured:
            from django.utils import timezone, translation  # noqa: PLC0415

            translation.deactivate()
            timezone.deactivate()


@pytest.fixture(scope="module")
def demo_site() -> Iterator[DemoSite]:
    site = start_demo_site(500)
    yield site
    stop(site.proc)


# -- luigid ---------------------------------------------------------------------

@dataclass
class Luigid:
    """A real luigid with task history on, and the luigi.cfg workers must use."""

    port: int
    home: Path
    config: Path
    history_url: str
    items_url: str
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def spec_dir(self) -> Path:
        return self.home / "crawls"

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("CRAWL_")}
        env.update(LUIGI_CONFIG_PATH=str(self.config), TZ="UTC", PYTHONPATH=str(ROOT), **extra)
        return env

    def start(self) -> None:
        log = open(self.home / "luigid.log", "ab")
        self.proc = subprocess.Popen(
            [PYTHON, "-c", "import luigi.cmdline; luigi.cmdline.luigid()",
             "--address", "127.0.0.1", "--port", str(self.port)],
            cwd=self.home, env=self.env(), stdout=log, stderr=subprocess.STDOUT,
        )
        wait_http(f"{self.url}/api/task_list", proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc)

    def run(self, *args: str, timeout: float = 300, **popen: object) -> subprocess.CompletedProcess:
        """`python -m luigi --module pipelines.tasks ARGS` against this luigid."""
        return subprocess.run(
            [PYTHON, "-m", "luigi", "--module", "pipelines.tasks", *args],
            cwd=ROOT, env=self.env(), capture_output=True, text=True, timeout=timeout, **popen,
        )

    def write_spec(self, name: str, site_url: str, **overrides: object) -> Path:
        """The demo spec pointed at `site_url`, saved as <spec_dir>/<name>.toml.

        Overrides replace a key's line (`max_pages=50`) or, for a key the demo
        spec lacks, are added at the top or to its [fetch] table.
        """
        text = (ROOT / "pipelines/crawls/demo.toml").read_text()
        text = text.replace('name = "demo"', f'name = "{name}"').replace("http://127.0.0.1:${DEMO_SITE_PORT:-8090}/", site_url)
        for key, value in overrides.items():
            line = f"{key} = {json.dumps(value)}"
            text, found = re.subn(rf"(?m)^{key} = .*$", line, text, count=1)
            if not found and key in FETCH_KEYS:
                text = text.replace("\n[fetch]\n", f"\n[fetch]\n{line}\n", 1)
            elif not found:  # a top-level key goes before the first table
                text = text.replace("\n[", f"\n{line}\n\n[", 1)
        path = self.spec_dir / f"{name}.toml"
        path.write_text(text)
        return path


def write_luigi_config(home: Path, port: int, history_url: str, items_url: str) -> Path:
    (home / "data").mkdir(parents=True, exist_ok=True)
    (home / "crawls").mkdir(exist_ok=True)
    config = home / "luigi.cfg"
    config.write_text(f"""
[core]
scheduler_host = 127.0.0.1
scheduler_port = {port}
log_level = INFO
autoload_range = false
rpc_retry_attempts = 13
rpc_retry_wait = 5

[scheduler]
record_task_history = true
state_path = {home}/state.pickle
metrics_collector = prometheus
worker_disconnect_delay = 2
prune_on_get_work = true

[task_history]
db_connection = {history_url}

[worker]
keep_alive = false
task_process_context = pipelines.runs.context.RunContext

[runs]
webmon_url = http://127.0.0.1:8000
json_log = {home}/tasks.jsonl

[retcode]
already_running = 10
missing_data = 20
not_run = 25
task_failed = 30
scheduling_error = 35
unhandled_exception = 40

[crawl]
spec_dirs = {home}/crawls
data_dir = {home}/data
browser_run_dir = {home}/browsers

[store]
db_connection = {items_url}

[backup]
dir = {home}/backups
run_dir = {home}/run
""")
    return config


def make_luigid(home: Path, history_url: str | None = None, items_url: str | None = None) -> Luigid:
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    history_url = history_url or f"sqlite:///{home}/history.db"
    items_url = items_url or f"sqlite:///{home}/items.db"
    return Luigid(port, home, write_luigi_config(home, port, history_url, items_url), history_url, items_url)


@pytest.fixture(scope="module")
def luigid(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Luigid]:
    server = make_luigid(tmp_path_factory.mktemp("luigid"))
    server.start()
    yield server
    server.stop()


# -- real databases ---------------------------------------------------------------

def _scratch_name() -> str:
    return f"crawlops_test_{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this module, dropped afterwards."""
    try:
        import psycopg2
        admin = psycopg2.connect(PG_ADMIN, connect_timeout=3)
    except Exception as exc:  # noqa: BLE001 - any failure means "no server here"
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}")
    admin.autocommit = True
    name = _scratch_name()
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg2://")
    yield f"{base}/{name}"
    with admin.cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.close()


@pytest.fixture(scope="module")
def mariadb_url() -> Iterator[str]:
    """A fresh MariaDB database for this module, dropped afterwards."""
    try:
        import pymysql
        admin = pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", connect_timeout=3)
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"MariaDB not reachable at {MARIADB_ADMIN}: {exc}")
    name = _scratch_name()
    with admin.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
    yield f"mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4"
    with admin.cursor() as cur:
        cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
    admin.close()

