"""A real Prometheus, configured by deploy/prometheus, scrapes a real webmon and
a real luigid while real crawls run; then every PromQL expression of the alert
rules and of both dashboards goes to Prometheus' HTTP API.

The stack (module-scoped, everything on 127.0.0.1, free ports): luigid, the
demo site, a fault server (a 5xx answered on retry, a 404), webmon
(`manage.py runserver` with METRICS_TOKEN) and its trigger daemon, and
Prometheus with deploy/prometheus/prometheus.yml and alerts.yml, its targets
moved to the test's ports and its intervals to 1 s. Crawls: `shop` (the demo
catalogue, fine) and `broken` (a required field no page has, so ParsePages
fails), each run once by a schedule through the trigger daemon and once by
the luigi CLI (shop with a [monitors] min_items it cannot reach: its ticks
are done with warnings and CrawlDataQuality fires), and `unreachable` (its only page is a 404, so FetchPages
fails) by the CLI; a third schedule is due next year (a next-due time, state
new).

Skips with the reason when /usr/bin/prometheus is missing; CI
(CRAWLOPS_REQUIRE_SERVICES=1) turns that skip into a failure.
"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import ROOT, DemoSite, Luigid, free_port, make_luigid, start_demo_site, stop, wait_http
from tests.servers.faults import FaultServer

pytestmark = pytest.mark.prometheus

PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROM_DIR = ROOT / "deploy/prometheus"
DASHBOARDS = [ROOT / "deploy/grafana/dashboards/crawl-overview.json",
              ROOT / "deploy/grafana/dashboards/crawl-detail.json"]
TOKEN = "e2e-metrics-token"
CRAWL = "shop"
FAMILY = "FetchPages"
# What Grafana puts in for its variables when the test asks as a user would.
VARIABLES = {"crawl": CRAWL, "family": FAMILY, "__rate_interval": "1m", "__interval": "15s", "__range": "5m",
             "datasource": "crawlops-prometheus"}


@dataclass
class Stack:
    prometheus: str
    webmon: str
    luigid: Luigid
    home: Path
    procs: list[subprocess.Popen] = field(default_factory=list)

    def query(self, expr: str, at: float | None = None) -> dict:
        """GET /api/v1/query (at `at`, else now); Prometheus answers 400/422 with a JSON error body."""
        params = {"query": expr} if at is None else {"query": expr, "time": f"{at:.3f}"}
        url = f"{self.prometheus}/api/v1/query?" + urllib.parse.urlencode(params)
        try:
            with urllib.request.urlopen(url, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as exc:
            return json.load(exc)

    def api(self, path: str) -> dict:
        with urllib.request.urlopen(f"{self.prometheus}{path}", timeout=30) as response:
            return json.load(response)

    def log(self, name: str) -> str:
        path = self.home / f"{name}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, f"manage.py {' '.join(args)}: {result.stdout}\n{result.stderr[-3000:]}"
    return result


def background(stack: Stack, name: str, args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
    log = open(stack.home / f"{name}.log", "ab")  # noqa: SIM115 - the process owns it
    proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    stack.procs.append(proc)
    return proc


def prometheus_config(home: Path, webmon_port: int, luigid_port: int) -> Path:
    """deploy/prometheus/prometheus.yml with the test's targets, 1 s intervals, alerts.yml and a token beside it."""
    text = (PROM_DIR / "prometheus.yml").read_text()
    for old, new in (("scrape_interval: 15s", "scrape_interval: 1s"), ("scrape_timeout: 10s", "scrape_timeout: 1s"),
                     ("evaluation_interval: 15s", "evaluation_interval: 1s"),
                     ('"127.0.0.1:8000"', f'"127.0.0.1:{webmon_port}"'),
                     ('"127.0.0.1:8082"', f'"127.0.0.1:{luigid_port}"')):
        assert text.count(old) == 1, f"prometheus.yml changed: {old!r} is not there once; update this test"
        text = text.replace(old, new)
    (home / "prometheus.yml").write_text(text)
    shutil.copy(PROM_DIR / "alerts.yml", home / "alerts.yml")
    (home / "crawlops_metrics_token").write_text(TOKEN + "\n")
    return home / "prometheus.yml"


def create_schedules(env: dict[str, str]) -> None:
    """shop-now and broken-now: one tick, this minute, due at once; shop-yearly: due next 1 January."""
    manage(env, "shell", "-c", (
        "from datetime import datetime, timedelta, UTC; from webmon.scheduling.models import Schedule;"
        "now = datetime.now(UTC).replace(second=0, microsecond=0);"
        "once = dict(cron='* * * * *', catchup='latest', start_at=now - timedelta(days=1),"
        " last_tick=now - timedelta(minutes=1), end_at=now, retries=0);"
        f"Schedule.objects.create(name='{CRAWL}-now', crawl='{CRAWL}', **once);"
        "Schedule.objects.create(name='broken-now', crawl='broken', **once);"
        f"Schedule.objects.create(name='{CRAWL}-yearly', crawl='{CRAWL}', cron='0 0 1 1 *', start_at=now)"))


def wait_for_scheduled_runs(db: Path, names: tuple[str, ...], seconds: float = 240) -> dict[str, str]:
    deadline = time.monotonic() + seconds
    states: dict[str, str] = {}
    while time.monotonic() < deadline:
        with sqlite3.connect(db) as conn:
            states = dict(conn.execute(
                "SELECT s.name, r.state FROM scheduling_scheduledrun r JOIN scheduling_schedule s"
                " ON s.id = r.schedule_id"))
        if all(states.get(n) in ("success", "failed", "timed_out", "skipped") for n in names):
            return states
        time.sleep(0.5)
    raise AssertionError(f"scheduled runs did not finish in {seconds}s: {states}")


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if not Path(PROMETHEUS).exists():
        pytest.skip(f"Prometheus not found ({PROMETHEUS}): apt-get install prometheus")
    home = tmp_path_factory.mktemp("prometheus-e2e")
    luigid = make_luigid(home / "luigid")
    luigid.start()
    site: DemoSite = start_demo_site(30)
    faults = FaultServer().start()
    stack = Stack(prometheus=f"http://127.0.0.1:{free_port()}", webmon="", luigid=luigid, home=home)
    try:
        shop = luigid.write_spec(CRAWL, site.url, max_pages=200, start_urls=[
            site.url, f"{faults.url}/status/503?fail=1&key=e2e", f"{faults.url}/status/404"])
        # A monitor every tick of shop breaks (30 products), one it keeps: CrawlDataQuality fires, warn only.
        shop.write_text(shop.read_text() + "\n[monitors]\nmin_items = 1000\n\n[monitors.coverage]\ntitle = 1.0\n")
        broken = luigid.write_spec("broken", site.url, max_pages=200)
        broken.write_text(broken.read_text() + '\n[fields.isbn]\ncss = "td.isbn::text"\nrequired = true\n')
        luigid.write_spec("unreachable", f"{faults.url}/status/404")

        webmon_port = free_port()
        stack.webmon = f"http://127.0.0.1:{webmon_port}"
        env = luigid.env(DATABASE_URL=f"sqlite:///{home}/webmon.db", SECRET_KEY="tests-only", LUIGID_URL=luigid.url,
                         RUN_OUTPUT_DIR=str(home / "runs"),  # its run ids: not the checkout's var/log/runs
                         METRICS_TOKEN=TOKEN, DJANGO_SETTINGS_MODULE="webmon.settings")
        manage(env, "migrate", "--noinput", "-v", "0")
        create_schedules(env)
        start_scraping(stack, env, webmon_port)

        # Crawls while Prometheus scrapes: scheduled (trigger daemon), then by hand (luigi CLI).
        background(stack, "trigger", [sys.executable, "manage.py", "trigger", "--idle-sleep", "0.2"], env)
        states = wait_for_scheduled_runs(home / "webmon.db", (f"{CRAWL}-now", "broken-now"))
        assert states == {f"{CRAWL}-now": "success", "broken-now": "failed"}, (states, stack.log("trigger"))
        time.sleep(3)  # a few scrapes between the runs: counters must move while Prometheus watches
        good = luigid.run("RunCrawl", "--crawl", CRAWL, "--at", "2000-01-01T0000")
        assert good.returncode == 0, good.stderr[-3000:]
        for crawl in ("broken", "unreachable"):
            bad = luigid.run("RunCrawl", "--crawl", crawl, "--at", "2000-01-01T0000")
            assert bad.returncode == 30, bad.stderr[-3000:]
        time.sleep(4)  # samples after the last run, and rule evaluations on them
        yield stack
    finally:
        for proc in reversed(stack.procs):
            stop(proc)
        faults.stop()
        stop(site.proc)
        luigid.stop()


def start_scraping(stack: Stack, env: dict[str, str], webmon_port: int) -> None:
    """webmon on webmon_port, then Prometheus (deploy/prometheus's config) scraping it and stack.luigid."""
    webmon = background(stack, "webmon", [sys.executable, "manage.py", "runserver", "--noreload", "--skip-checks",
                                          f"127.0.0.1:{webmon_port}"], env)
    _wait_up(stack.webmon, webmon)
    config = prometheus_config(stack.home, webmon_port, stack.luigid.port)
    prometheus = background(stack, "prometheus", [
        PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={stack.home}/tsdb",
        f"--web.listen-address={stack.prometheus.removeprefix('http://')}", "--log.level=warn"])
    wait_http(f"{stack.prometheus}/-/ready", timeout=60, proc=prometheus)
    # Ready is not scraping: target discovery reaches the scrapers about 5 s later.
    _wait_for_samples(stack)


def _wait_up(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    """webmon answers (any status: /healthz may be 503 before the first crawl wrote history)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"webmon exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/healthz", timeout=2):
                return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"webmon at {url} did not answer within {timeout}s")


def _wait_for_samples(stack: Stack, timeout: float = 60) -> None:
    """Prometheus has scraped both targets (whatever the outcome) and stored `up` for each."""
    deadline = time.monotonic() + timeout
    jobs: set[str] = set()
    while time.monotonic() < deadline:
        result = stack.query("up")
        jobs = {s["metric"].get("job") for s in result.get("data", {}).get("result", [])}
        if {"webmon", "luigid"} <= jobs:
            return
        time.sleep(0.5)
    raise AssertionError(f"Prometheus has no samples of both targets after {timeout}s (jobs: {jobs})")


# -- what gets sent --------------------------------------------------------------------

def substitute(expr: str, variables: dict[str, str] = VARIABLES) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        assert name in variables, f"no test value for ${name} in {expr!r}"
        return variables[name]
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)", value, expr)


def panel_targets() -> list[tuple[dict, dict, dict]]:
    """(dashboard, panel, target) of every panel target of both dashboards."""
    out = []
    for path in DASHBOARDS:
        board = json.loads(path.read_text())
        for panel in board["panels"]:
            for inner in [*panel.get("panels", []), panel]:
                out.extend((board, inner, target) for target in inner.get("targets", []))
    return out


def panel_queries(variables: dict[str, str] = VARIABLES) -> list[tuple[str, str]]:
    """(dashboard / panel / refId, expression with the variables filled in) of every panel target."""
    return [(f"{board['uid']} / {panel['title']} / {target['refId']}", substitute(target["expr"], variables))
            for board, panel, target in panel_targets()]


def alert_rules(stack: Stack) -> list[dict]:
    return [rule for group in stack.api("/api/v1/rules")["data"]["groups"] for rule in group["rules"]]


def metric_names(expr: str) -> set[str]:
    names = set(re.findall(r"\b((?:crawl|luigi)_[a-z0-9_]+)\b", expr))
    return names | ({"up"} if re.search(r"\bup\{", expr) else set())


# -- tests -------------------------------------------------------------------------------

def test_prometheus_scrapes_luigid(stack: Stack) -> None:
    result = stack.query('up{job="luigid"}')["data"]["result"]
    assert [s["value"][1] for s in result] == ["1"], _targets(stack)
    assert stack.query('luigi_task_done_total{family="StoreItems"}')["data"]["result"], "luigid counted no StoreItems"


def test_prometheus_scrapes_webmon_with_the_token(stack: Stack) -> None:
    result = stack.query('up{job="webmon"}')["data"]["result"]
    assert [s["value"][1] for s in result] == ["1"], _targets(stack)


def test_every_alert_rule_is_loaded_and_evaluates_without_error(stack: Stack) -> None:
    rules = alert_rules(stack)
    in_file = re.findall(r"(?m)^\s*- alert: (\S+)\s*$", (PROM_DIR / "alerts.yml").read_text())
    assert sorted(r["name"] for r in rules) == sorted(in_file)
    for rule in rules:
        assert rule["type"] == "alerting"
        assert rule["labels"]["severity"] in ("critical", "warning"), rule["name"]
        assert {"summary", "description", "dashboard"} <= set(rule["annotations"]), rule["name"]
    broken = {r["name"]: r.get("lastError") for r in rules if r["health"] != "ok"}
    assert not broken, broken


def test_a_broken_data_quality_monitor_fires_crawl_data_quality(stack: Stack) -> None:
    deadline = time.monotonic() + 30
    firing: list[dict] = []
    while time.monotonic() < deadline:
        alerts = stack.api("/api/v1/alerts")["data"]["alerts"]
        firing = [a["labels"] for a in alerts if a["labels"]["alertname"] == "CrawlDataQuality" and a["state"] == "firing"]
        if firing:
            break
        time.sleep(0.5)
    assert [(a["crawl"], a["monitor"]) for a in firing] == [(CRAWL, "min_items")], _targets(stack)
    held = stack.query(f'crawl_quality_violation{{crawl="{CRAWL}",monitor="coverage.title"}}')["data"]["result"]
    assert [s["value"][1] for s in held] == ["0"]


def test_every_alert_expression_runs(stack: Stack) -> None:
    failed = {}
    for rule in alert_rules(stack):
        answer = stack.query(rule["query"])
        if answer["status"] != "success":
            failed[rule["name"]] = answer.get("error")
    assert not failed, failed


def test_every_panel_expression_runs(stack: Stack) -> None:
    failed = {}
    for where, expr in panel_queries():
        answer = stack.query(expr)
        if answer["status"] != "success":
            failed[where] = f"{answer.get('errorType')}: {answer.get('error')}"
    assert not failed, json.dumps(failed, indent=2)


def test_every_panel_returns_data(stack: Stack) -> None:
    # A number, not only NaN (0/0, a quantile of no observations): Grafana shows NaN as "No data".
    empty = []
    for where, expr in panel_queries():
        values = [sample["value"][1] for sample in stack.query(expr).get("data", {}).get("result", [])]
        if not any(value != "NaN" for value in values):
            empty.append(f"{where}: {values}")
    assert not empty, f"{len(empty)} panel queries returned no number:\n" + "\n".join(empty) + "\n" + _targets(stack)


def test_every_metric_the_dashboards_and_rules_name_is_scraped(stack: Stack) -> None:
    named: set[str] = set()
    for _, expr in panel_queries():
        named |= metric_names(expr)
    for rule in alert_rules(stack):
        named |= metric_names(rule["query"])
    scraped = set(stack.api("/api/v1/label/__name__/values")["data"])
    missing = sorted(named - scraped)
    assert not missing, f"named in deploy/ but not scraped: {missing}\n{_targets(stack)}"


def _targets(stack: Stack) -> str:
    """Each target's health and last scrape error, for failure messages."""
    targets = stack.api("/api/v1/targets")["data"]["activeTargets"]
    return "targets: " + "; ".join(f"{t['labels']['job']} {t['health']} {t.get('lastError', '')}" for t in targets)
