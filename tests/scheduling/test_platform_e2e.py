"""Issue 12's "done when", as a user runs it: schedules of a workflow, a Scrapy spider and a script.

One module, one stack, started as `scheduler.sh up` starts it: a real luigid
(task history and run records on SQLite), the demo site (30 products; the
catalogue at / and the outlet at /outlet/), webmon (`migrate`, `ensure_admin`,
`runserver`) and ONE trigger daemon (`manage.py trigger`) for the whole module.
Each test makes its schedule through the model's `full_clean()` (as the admin
does) and waits for the daemon to run it through the luigi CLI and luigid;
then it reads what a user would look at: the run records and logs in the
history DB, the files, webmon's pages in a real Chromium, and /metrics.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from test_browser_ui import CHROMEDRIVER, CHROMIUM, PASSWORD, Browser, find, find_all, wait
from test_browser_ui import browser as browser  # noqa: F401 - fixtures used by name
from test_browser_ui import clean_console as clean_console  # noqa: F401
from test_browser_ui import signed_in as signed_in  # noqa: F401

from pipelines.demo.site import listing_pages
from tests.conftest import ROOT, DemoSite, Luigid, free_port, make_luigid, start_demo_site, stop, wait_http
from tests.workflows.support import DAG, install_demo_specs, read_csv

pytestmark = [
    pytest.mark.browser,
    pytest.mark.scrapy,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's /usr/bin/chromium and /usr/bin/chromedriver"),
]

PRODUCTS = 30
METRICS_TOKEN = "e2e-metrics-token-not-a-secret"
SPIDER_PAGES = 1 + 1 + listing_pages(PRODUCTS) + PRODUCTS  # robots.txt, home, listings, products
# Requirement -> task, by family, of one ShopReport tick (docs/workflows.md's drawing).
DAG_EDGES = Counter({("FetchPages", "ParsePages"): 2, ("ParsePages", "StoreItems"): 2, ("StoreItems", "RunCrawl"): 2,
                     ("RunCrawl", "ExportItems"): 2, ("RunCrawl", "PriceComparison"): 2,
                     ("ExportItems", "ShopReport"): 2, ("PriceComparison", "ShopReport"): 1})

NEW_SCHEDULE = """
import json, os
from datetime import UTC, datetime, timedelta
from webmon.scheduling.models import Schedule
name, task, params = json.loads(os.environ["E2E_ARGS"])
now = datetime.now(UTC).replace(second=0, microsecond=0)
s = Schedule(name=name, task=task, task_params=params, crawl="",
             cron="* * * * *", catchup="latest", retries=0, timeout_seconds=600,
             start_at=now - timedelta(days=1), last_tick=now - timedelta(minutes=1), end_at=now)
s.full_clean()  # what the admin runs: the class and its parameters are checked here
s.save()
print(s.pk)
"""

RUN_STATE = """
import json, os
from webmon.scheduling.models import ScheduledRun
r = ScheduledRun.objects.filter(schedule_id=int(os.environ["E2E_ARGS"])).order_by("-id").first()
print(json.dumps(None if r is None else {"id": r.pk, "state": r.state, "reason": r.reason,
                                         "tick": r.logical_time.isoformat(), "output": r.output_path}))
"""


@dataclass
class Platform:
    luigid: Luigid
    site: DemoSite
    url: str
    env: dict[str, str]
    home: Path
    daemon: subprocess.Popen

    def manage(self, *args: str, argument: str = "") -> str:
        """`manage.py ARGS`; `argument` reaches a shell command as $E2E_ARGS."""
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env={**self.env, "E2E_ARGS": argument},
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""

    def schedule(self, name: str, task: str, params: dict[str, Any]) -> int:
        """A schedule due at once (one tick: the current minute), saved after full_clean()."""
        return int(self.manage("shell", "-c", NEW_SCHEDULE, argument=json.dumps([name, task, params])))

    def run_state(self, schedule: int) -> dict[str, Any] | None:
        return json.loads(self.manage("shell", "-c", RUN_STATE, argument=str(schedule)))

    def wait_for_end(self, schedule: int, seconds: float = 300) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            assert self.daemon.poll() is None, f"the trigger daemon exited: {self.daemon_log()}"
            run = self.run_state(schedule)
            if run and run["state"] in ("success", "failed", "timed_out"):
                return run
            time.sleep(0.5)
        raise AssertionError(f"schedule {schedule} did not end within {seconds} s: {self.run_state(schedule)}")

    def daemon_log(self) -> str:
        return (self.home / "trigger.log").read_text(errors="replace")[-3000:]

    def history(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        engine = sa.create_engine(self.luigid.history_url)
        try:
            with engine.connect() as conn:
                return [dict(row) for row in conn.execute(sa.text(sql), params).mappings()]
        finally:
            engine.dispose()

    def runs_of(self, scheduled_run: int) -> list[dict[str, Any]]:
        """The run records whose crawl_run_deps row names this ScheduledRun, oldest first."""
        rows = self.history(
            "SELECT r.id, r.task_id, r.family, r.crawl, r.params, r.status, r.stats, d.requires FROM crawl_runs r"
            " JOIN crawl_run_deps d ON d.run_id = r.id WHERE d.scheduled_run = :s ORDER BY r.id", s=scheduled_run)
        for row in rows:
            row["params"] = json.loads(row["params"])
            row["stats"] = json.loads(row["stats"]) if row["stats"] else None
            row["requires"] = json.loads(row["requires"])
        return rows


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    pytest.importorskip("scrapy", reason="the Scrapy extra is not installed: pip install -r requirements-scrapy.txt")
    home = tmp_path_factory.mktemp("platform")
    site = start_demo_site(PRODUCTS)
    luigid = make_luigid(home / "luigid")
    install_demo_specs(luigid)  # the shipped demo.toml and demo-b.toml, reading DEMO_SITE_PORT
    procs: list[subprocess.Popen] = []
    try:
        luigid.start()
        env = luigid.env(
            DATABASE_URL=f"sqlite:///{home / 'webmon.db'}", SECRET_KEY="e2e-tests-only-not-a-secret",
            LUIGID_URL=luigid.url, DJANGO_SETTINGS_MODULE="webmon.settings", DEMO_SITE_PORT=str(site.port),
            DEBUG="true", WEBMON_ADMIN_PASSWORD=PASSWORD, METRICS_TOKEN=METRICS_TOKEN, METRICS_ALLOW="none",
            RUN_OUTPUT_DIR=str(home / "runs"))  # not the checkout's var/log/runs: run ids are this DB's
        env = {k: v for k, v in env.items() if not k.startswith("WEBMON_") or k == "WEBMON_ADMIN_PASSWORD"}
        for args in (["migrate", "--noinput", "-v", "0"], ["ensure_admin"]):
            done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                                  text=True, timeout=120)
            assert done.returncode == 0, done.stderr[-3000:]
        port = free_port()
        with open(home / "webmon.log", "wb") as out:
            procs.append(subprocess.Popen([sys.executable, "manage.py", "runserver", "--noreload",
                                           f"127.0.0.1:{port}"], cwd=ROOT, env=env, stdin=subprocess.DEVNULL,
                                          stdout=out, stderr=subprocess.STDOUT))
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/login/", timeout=60, proc=procs[-1])
        with open(home / "trigger.log", "wb") as out:
            procs.append(subprocess.Popen([sys.executable, "manage.py", "trigger", "--idle-sleep", "0.2"], cwd=ROOT,
                                          env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT))
        yield Platform(luigid, site, url, env, home, procs[-1])
    finally:
        for proc in reversed(procs):
            stop(proc, timeout=30)
        luigid.stop()
        stop(site.proc)


@pytest.fixture(scope="module")
def stack(platform: Platform) -> Platform:
    """What test_browser_ui's browser fixture opens pages on (it reads `.url`)."""
    return platform


@dataclass
class Ticked:
    schedule: int
    run: dict[str, Any]
    records: list[dict[str, Any]]


@pytest.fixture(scope="module")
def shop_report(platform: Platform) -> Ticked:
    """One tick of the demo workflow, run by the daemon from a schedule."""
    schedule = platform.schedule("shop-report", "pipelines.workflows.demo.ShopReport", {"left": "demo"})
    run = platform.wait_for_end(schedule)
    assert run["state"] == "success", (run, platform.daemon_log())
    return Ticked(schedule, run, platform.runs_of(run["id"]))


def test_the_scheduled_workflow_runs_every_task_of_its_dag_tied_to_its_tick(
        platform: Platform, shop_report: Ticked) -> None:
    records = shop_report.records
    tick = shop_report.run["tick"][:16].replace(":", "")  # 2026-12-03T12:20 -> 2026-12-03T1220
    assert Counter(r["family"] for r in records) == DAG
    assert {r["status"] for r in records} == {"done"}
    assert {r["params"]["at"] for r in records} == {tick}  # the daemon passed the schedule's tick as --at
    assert {r["crawl"] for r in records if r["family"] == "FetchPages"} == {"demo", "demo-b"}
    # Every task of the tick ran in luigid (its task history), not only in our records.
    done = platform.history("SELECT DISTINCT t.name FROM tasks t JOIN task_events e ON e.task_id = t.id"
                            " WHERE e.event_name = 'DONE'")
    assert set(DAG) <= {row["name"] for row in done}
    # The requirements recorded for each task are the DAG's edges.
    family_of = {r["task_id"]: r["family"] for r in records}
    edges = Counter((family_of[need["task_id"]], r["family"]) for r in records for need in r["requires"])
    assert edges == DAG_EDGES


def test_the_scheduled_workflow_leaves_its_exports_and_report(platform: Platform, shop_report: Ticked) -> None:
    tick_dir = shop_report.run["tick"][:16].replace("-", "").replace(":", "") + "Z"  # 20261203T1220Z
    exports = platform.luigid.data_dir / "exports"
    rows = {crawl: len(read_csv(exports / crawl / tick_dir / "items.csv")[1]) for crawl in ("demo", "demo-b")}
    assert rows == {"demo": PRODUCTS, "demo-b": 29}  # the outlet: every catalogue book but each 7th, plus 3
    report = json.loads((exports / "demo+demo-b" / tick_dir / "shop-report.json").read_text(encoding="utf-8"))
    assert report["left"]["items"] == PRODUCTS and report["right"]["items"] == 29
    assert report["comparison"]["matched"] == 26
    by_family = {r["family"]: r for r in shop_report.records}
    assert by_family["PriceComparison"]["stats"]["matched"] == 26


def test_the_run_page_draws_the_whole_dag_in_a_browser(signed_in: Browser, shop_report: Ticked) -> None:
    b = signed_in
    (top,) = [r for r in shop_report.records if r["family"] == "ShopReport"]
    b.get(f"/runs/{top['id']}/")
    wait(b, lambda d: find_all(b, "#dag-graph g.dag-node"))
    nodes = find_all(b, "#dag-graph g.dag-node")
    family_of = {n.get_attribute("data-task-id"): n.get_attribute("data-family") for n in nodes}
    assert Counter(family_of.values()) == DAG  # every task of the tick is a box
    assert {n.get_attribute("data-status") for n in nodes} == {"done"}
    for node in nodes:
        box = node.find_element("css selector", "rect")
        assert box.is_displayed() and box.size["width"] > 50 and box.size["height"] > 20
    edges = Counter((family_of[e.get_attribute("data-from")], family_of[e.get_attribute("data-to")])
                    for e in find_all(b, "#dag-graph path.dag-edge"))
    assert edges == DAG_EDGES
    x = {f: min(n.location["x"] for n in nodes if n.get_attribute("data-family") == f) for f in DAG}
    assert x["FetchPages"] < x["ParsePages"] < x["StoreItems"] < x["RunCrawl"] < x["ExportItems"] < x["ShopReport"]
    assert find(b, "#dag-graph").get_attribute("data-source") == "history"
    # Boxes of one family tell their crawl (the tick they all share is left out of the line under the name).
    fetches = [n.find_element("css selector", ".stage-info").text for n in nodes
               if n.get_attribute("data-family") == "FetchPages"]
    assert sorted(text.split(" · ", 1)[1].rsplit("_", 1)[0] for text in fetches) == ["demo", "demo_b"]  # _<hash>
    # The graph is wider than the window: it opens scrolled to the run's own box, the rightmost.
    visible = b.driver.execute_script(
        "var r = document.querySelector('#dag-graph .stage-current rect').getBoundingClientRect();"
        "var s = document.querySelector('#dag-graph').closest('.scroll-x').getBoundingClientRect();"
        "return [r.left >= s.left, r.right <= s.right, s.width < document.querySelector('#dag-graph').width.baseVal.value];")
    assert visible == [True, True, True]
    assert find(b, "#dag-graph .stage-current").get_attribute("data-family") == "ShopReport"
    b.shot("e2e-shop-report-dag")


def test_the_grid_shows_the_ticks_column_with_every_task_done(signed_in: Browser, shop_report: Ticked) -> None:
    b = signed_in
    b.get(f"/schedules/{shop_report.schedule}/")
    assert find(b, "#task-class").text == "pipelines.workflows.demo.ShopReport"
    assert json.loads(find(b, "#task-params").text) == {"left": "demo"}
    find(b, "#grid-link").click()
    wait(b, lambda d: d.current_url.endswith(f"/schedules/{shop_report.schedule}/grid/"))
    ticks = find_all(b, "#dag-grid th.tick")
    assert [t.get_attribute("data-tick") for t in ticks] == [str(shop_report.run["id"])]
    assert ticks[0].get_attribute("data-state") == "success"
    rows = find_all(b, "#dag-grid tr.grid-row")
    assert Counter(r.get_attribute("data-family") for r in rows) == DAG
    for row in rows:
        (cell,) = row.find_elements("css selector", "td.cell")
        assert cell.get_attribute("data-state") == "done"
        assert cell.is_displayed() and cell.size["width"] >= 16 and cell.size["height"] >= 16
    b.shot("e2e-shop-report-grid")


def test_a_scheduled_scrapy_spider_logs_live_and_records_its_stats(platform: Platform, signed_in: Browser) -> None:
    project = ROOT / "examples" / "scrapy_shop"
    schedule = platform.schedule("shop-spider", "pipelines.external.scrapy.ScrapySpider", {
        "project": str(project), "spider": "shop", "args": {"start_url": platform.site.url},
        # One request at a time, 0.5 s apart (Scrapy varies it by 0.5-1.5x): some 18 s of crawling to watch.
        "settings": {"DOWNLOAD_DELAY": 0.5, "CONCURRENT_REQUESTS": 1}})

    def live() -> dict[str, Any] | None:
        rows = platform.history(
            "SELECT r.id, r.status, COUNT(l.seq) AS lines FROM crawl_runs r"
            " LEFT JOIN crawl_run_logs l ON l.run_id = r.id WHERE r.family = 'ScrapySpider' GROUP BY r.id, r.status")
        return rows[0] if rows and rows[0]["status"] == "running" and rows[0]["lines"] > 0 else None

    deadline, seen = time.monotonic() + 120, None
    while seen is None and time.monotonic() < deadline:
        seen = live()
        if seen is None:
            assert not platform.history("SELECT id FROM crawl_runs WHERE family = 'ScrapySpider'"
                                        " AND status != 'running'"), "the spider ended before a line was seen"
            time.sleep(0.1)
    assert seen is not None, "no log line of the running spider reached crawl_run_logs"
    # The run page, opened while the spider runs, follows its log: lines are added without a reload.
    b = signed_in
    b.get(f"/runs/{seen['id']}/")
    shown = len(find_all(b, "#log-lines tr.log-line"))
    assert find(b, "#log-follow").is_selected()
    wait(b, lambda d: len(find_all(b, "#log-lines tr.log-line")) > shown, timeout=60)
    wait(b, lambda d: find(b, "#log-status").text.startswith("The run finished"), timeout=120)
    assert find(b, "#log-status").text == "The run finished (done). Reload for the final state."
    assert any("Closing spider (finished)" in row.text for row in find_all(b, "#log-lines tr.log-line"))

    run = platform.wait_for_end(schedule)
    assert run["state"] == "success", (run, platform.daemon_log())
    (record,) = platform.runs_of(run["id"])
    assert record["family"] == "ScrapySpider" and record["status"] == "done" and record["crawl"] == "shop"
    stats = record["stats"]
    assert (stats["pages"], stats["items"], stats["errors"], stats["finish_reason"]) == (
        SPIDER_PAGES, PRODUCTS, 0, "finished")
    log = [row["message"] for row in platform.history(
        "SELECT message FROM crawl_run_logs WHERE run_id = :r ORDER BY seq", r=record["id"])]
    assert any("Closing spider (finished)" in line for line in log)

    # webmon's /metrics, as a Prometheus elsewhere scrapes it: with the token (the allow-list is off).
    request = urllib.request.Request(f"{platform.url}/metrics",
                                     headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        text = answer.read().decode()
    assert f'crawl_pages_fetched_total{{crawl="shop"}} {SPIDER_PAGES:.1f}' in text
    assert f'crawl_items_parsed_total{{crawl="shop"}} {PRODUCTS:.1f}' in text
    assert 'crawl_scrapy_closes_total{crawl="shop",reason="finished"} 1.0' in text
    assert 'crawl_task_runs_total{family="ScrapySpider",status="done"} 1.0' in text
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{platform.url}/metrics", timeout=30)
    assert refused.value.code == 401  # without the token


def test_a_scheduled_script_runs_with_its_lines_in_the_run_log_and_its_output_file(platform: Platform) -> None:
    script = ROOT / "examples" / "requests_script" / "fetch_books.py"
    schedule = platform.schedule("fetch-books", "pipelines.external.script.PythonScript",
                                 {"path": str(script), "args": ["--site", platform.site.url, "--pages", "2"]})
    run = platform.wait_for_end(schedule)
    assert run["state"] == "success", (run, platform.daemon_log())
    (record,) = platform.runs_of(run["id"])
    assert record["family"] == "PythonScript" and record["status"] == "done"
    log = [row["message"] for row in platform.history(
        "SELECT message FROM crawl_run_logs WHERE run_id = :r ORDER BY seq", r=record["id"])]
    assert [line for line in log if line.startswith(("page ", "done: "))] == [
        "page 1: 20 books", "page 2: 10 books", f"done: {PRODUCTS} books from 2 pages"]  # 20 a listing page
    tick_dir = run["tick"][:16].replace("-", "").replace(":", "") + "Z"
    out = platform.luigid.data_dir / "external" / "fetch_books" / tick_dir
    books = [json.loads(line) for line in (out / "books.jsonl").read_text(encoding="utf-8").splitlines()]
    assert sorted(book["url"] for book in books) == sorted(
        f"{platform.site.url}catalogue/product-{pid}.html" for pid in range(1, PRODUCTS + 1))
    assert record["stats"]["exit_code"] == 0
    output = Path(run["output"])  # the CLI output the daemon kept, in this stack's RUN_OUTPUT_DIR
    assert output.is_relative_to(platform.home / "runs")
    assert output.read_text().startswith(f"$ {sys.executable} -m luigi --module pipelines.external.script PythonScript")
    assert record["stats"]["reported"] == {"pages": 2, "books": PRODUCTS}  # what it wrote to CRAWLOPS_STATS_FILE
