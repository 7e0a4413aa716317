"""webmon in a real headless Chromium (Selenium), against a real webmon server and a real luigid.

The module starts, once:

* a history DB (SQLite) seeded the way its writers write it (tests/webmon/history_seed.py):
  two crawls of ticks over the last hours, two failed ParsePages runs with a
  traceback and a log holding an HTML/script line;
* a real luigid recording its task history into that same DB;
* webmon as `scheduler.sh up` starts it: `manage.py migrate`, `manage.py
  ensure_admin` (WEBMON_ADMIN_PASSWORD), `manage.py runserver --noreload`,
  with DATABASE_URL, LUIGI_CONFIG_PATH and LUIGID_URL in its environment;
* one Chromium driver (module-scoped), with the browser console recorded.

Every page visited is saved as test-artifacts/webmon/<name>.png (full page),
and every test ends by checking that the console shows no Content Security
Policy violation and no error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from history_seed import HistorySeed

from pipelines.runs import models as run_models
from tests.conftest import ROOT, Luigid, free_port, stop, wait_http

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "test-artifacts" / "webmon"
HERE = Path(__file__).resolve().parent
PASSWORD = "browser-test-password-7"  # a throwaway user of a throwaway DB
PAGE_SIZE = 10  # runs per page, so the seeded runs span a few pages

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's /usr/bin/chromium and /usr/bin/chromedriver",
    ),
]

HOSTILE = '<script>alert("log")</script><img src=x onerror="alert(2)"><b id="injected">bold?</b>'
TRACEBACK = """Traceback (most recent call last):
  File "/srv/crawlops/pipelines/tasks.py", line 212, in run
    items = parse_page(page)
  File "/srv/crawlops/pipelines/parse/extract.py", line 88, in parse_page
    price = Decimal(raw_price)
decimal.InvalidOperation: [<class 'decimal.ConversionSyntax'>] price '12,99 €' is not a number"""


# -- the stack: history DB, luigid, webmon -----------------------------------------------


@dataclass
class Seeded:
    now: datetime
    failed: list[int]  # the failed ParsePages runs of crawl shop, newest first
    shop_runs: int
    books_runs: int


def seed_history(seed: HistorySeed) -> Seeded:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    failed, shop_runs, books_runs = [], 0, 0
    for i in range(12):  # shop: a tick every hour; ticks 3 and 8 hours ago failed in ParsePages
        at = now - timedelta(hours=12 - i)
        statuses = {"ParsePages": "failed"} if i in (4, 9) else None
        extra = {"traceback": TRACEBACK, "error_type": "decimal.InvalidOperation",
                 "error_message": "price '12,99 €' is not a number\non https://shop.example/p/17"} if statuses else {}
        ids = seed.tick("shop", at, statuses=statuses, seconds=20.0 + i, **extra)
        shop_runs += len(ids)
        seed.logs(ids["FetchPages"], [("INFO", f"fetched {100 + i} pages"), ("INFO", "done")], start=at)
        if statuses:
            failed.insert(0, ids["ParsePages"])
            seed.logs(
                ids["ParsePages"],
                [
                    ("INFO", "parsing 112 pages"),
                    ("STDOUT", "page 17: price text '12,99 €'"),
                    ("WARNING", "page 17: no currency symbol where expected"),
                    ("INFO", HOSTILE),
                    ("ERROR", "decimal.InvalidOperation: price '12,99 €' is not a number"),
                ],
                start=at + timedelta(seconds=21),
            )
    for i in range(8):  # books: a tick every 90 minutes, all done
        ids = seed.tick("books", now - timedelta(minutes=90 * (8 - i)), seconds=40.0 + 3 * i)
        books_runs += len(ids)
    return Seeded(now, failed, shop_runs, books_runs)


def luigid_config(home: Path, port: int, history_url: str) -> Path:
    """luigid with task history on, and nothing else of the product's config (no run records for Nap)."""
    config = home / "luigi.cfg"
    config.write_text(
        f"[core]\nscheduler_host = 127.0.0.1\nscheduler_port = {port}\n\n"
        f"[scheduler]\nrecord_task_history = true\nstate_path = {home}/state.pickle\n\n"
        f"[task_history]\ndb_connection = {history_url}\n"
    )
    return config


@dataclass
class Stack:
    url: str
    seed: HistorySeed
    seeded: Seeded
    luigid: Luigid
    log: Path


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    home = tmp_path_factory.mktemp("browser-ui")
    history_url = f"sqlite:///{home / 'history.db'}"
    seed = HistorySeed(history_url)
    seeded = seed_history(seed)

    port = free_port()
    server = Luigid(port, home, luigid_config(home, port, history_url), history_url, f"sqlite:///{home / 'items.db'}")
    server.start()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CRAWL_", "WEBMON_", "DJANGO_"))},
        "TZ": "UTC",
        "DEBUG": "true",  # runserver serves the static files
        "SECRET_KEY": "browser-tests-only-not-a-secret",
        "DATABASE_URL": f"sqlite:///{home / 'webmon.db'}",
        "LUIGI_CONFIG_PATH": str(server.config),
        "LUIGID_URL": server.url,
        "WEBMON_PAGE_SIZE": str(PAGE_SIZE),
        "WEBMON_ADMIN_PASSWORD": PASSWORD,
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for args in (["migrate", "--noinput", "-v", "0"], ["ensure_admin"]):
        done = subprocess.run([*manage, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
    web_port = free_port()
    log = home / "webmon.log"
    with open(log, "wb") as out:
        web = subprocess.Popen(
            [*manage, "runserver", "--noreload", f"127.0.0.1:{web_port}"],
            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{web_port}"
    try:
        wait_http(f"{url}/login/", timeout=60, proc=web)
        yield Stack(url, seed, seeded, server, log)
    finally:
        stop(web)
        server.stop()
        seed.engine.dispose()


# -- the browser ---------------------------------------------------------------------------


class Browser:
    """A Chromium driver, plus what its console said and a screenshot helper."""

    def __init__(self, driver, base_url: str) -> None:  # noqa: ANN001 - selenium's WebDriver
        self.driver = driver
        self.base = base_url
        self.console: list[dict] = []

    def get(self, path: str) -> None:
        self.driver.get(self.base + path)

    def drain_console(self) -> list[dict]:
        self.console += self.driver.get_log("browser")
        return self.console

    def shot(self, name: str) -> Path:
        """A full-page PNG in test-artifacts/webmon/."""
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        height = self.driver.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight)"
        )
        self.driver.set_window_size(1300, min(max(900, int(height) + 150), 6000))
        self.driver.execute_script("window.scrollTo(0, 0)")
        try:
            assert self.driver.save_screenshot(str(path)), path
        finally:
            self.driver.set_window_size(1300, 900)
        return path


@pytest.fixture(scope="module")
def browser(stack: Stack) -> Iterator[Browser]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)  # never Selenium Manager: it would download a browser
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--no-first-run",
        "--window-size=1300,900",
    ):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="webmon-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(30)
        yield Browser(driver, stack.url)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(autouse=True)
def clean_console(browser: Browser) -> Iterator[None]:
    """Each test starts with an empty console record and ends with no CSP violation and no error in it."""
    browser.drain_console()
    browser.console.clear()
    yield
    entries = browser.drain_console()
    csp = [e["message"] for e in entries if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    assert not csp, f"CSP violations in the browser console: {csp}"
    errors = [e["message"] for e in entries if e["level"] == "SEVERE"]
    assert not errors, f"errors in the browser console: {errors}"


def wait(browser: Browser, condition, timeout: float = 10):  # noqa: ANN001, ANN201
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(browser.driver, timeout, poll_frequency=0.1).until(condition)


def find(browser: Browser, css: str):  # noqa: ANN201
    from selenium.webdriver.common.by import By

    return browser.driver.find_element(By.CSS_SELECTOR, css)


def find_all(browser: Browser, css: str) -> list:
    from selenium.webdriver.common.by import By

    return browser.driver.find_elements(By.CSS_SELECTOR, css)


def log_in(browser: Browser, password: str = PASSWORD) -> None:
    browser.get("/login/")
    find(browser, "#id_username").clear()
    find(browser, "#id_username").send_keys("admin")
    find(browser, "#id_password").send_keys(password)
    find(browser, "#login-button").click()
    wait(browser, lambda d: "/login/" not in d.current_url or find_all(browser, "#login-error"))


@pytest.fixture
def signed_in(browser: Browser) -> Browser:
    """The browser with a session (logging in through the form when it has none)."""
    if browser.driver.get_cookie("sessionid") is None:
        log_in(browser)
    assert browser.driver.get_cookie("sessionid") is not None
    return browser


def assert_no_alert(browser: Browser) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    try:
        alert = browser.driver.switch_to.alert
    except NoAlertPresentException:
        return
    text = alert.text
    alert.dismiss()
    pytest.fail(f"a JavaScript alert opened: {text!r}")


# -- the tests ---------------------------------------------------------------------------------


def test_log_in_through_the_form(browser: Browser, stack: Stack) -> None:
    browser.driver.delete_all_cookies()
    browser.get("/runs/")  # a page needing a login sends to the form
    wait(browser, lambda d: "/login/" in d.current_url)
    assert find(browser, "body").get_attribute("id") == "page-login"
    assert "next=/runs/" in urllib.parse.unquote(browser.driver.current_url)
    browser.shot("login")

    log_in(browser, password="wrong-password")
    assert find(browser, "#login-error").is_displayed()
    assert browser.driver.get_cookie("sessionid") is None
    browser.shot("login-failed")

    log_in(browser)
    assert browser.driver.get_cookie("sessionid") is not None
    assert find(browser, "#user-name").text == "admin"
    assert find(browser, "#nav-admin").is_displayed()  # ensure_admin made a superuser


def test_overview_shows_the_seeded_crawls(signed_in: Browser, stack: Stack) -> None:
    b = signed_in
    b.get("/")
    assert find(b, "body").get_attribute("id") == "page-overview"
    rows = {row.get_attribute("data-crawl"): row for row in find_all(b, "#crawls tr.crawl-row")}
    assert sorted(rows) == ["books", "shop"]
    for row in rows.values():
        assert row.find_element("css selector", "td.last-run .status").text == "done"
        assert row.find_element("css selector", "svg.spark polyline").get_attribute("points")
    # shop: 12 ticks, 2 failed in ParsePages: 10 of 12 finished ParsePages runs done, etc.
    assert rows["books"].find_element("css selector", "td.rate").text.startswith("100")
    assert not rows["shop"].find_element("css selector", "td.rate").text.startswith("100")
    failures = [row.get_attribute("data-run-id") for row in find_all(b, "#failures tr.failure-row")]
    assert failures == [str(i) for i in stack.seeded.failed]
    assert "decimal.InvalidOperation" in find(b, "#failures").text
    assert not find_all(b, "#banner-history") and not find_all(b, "#banner-luigid")
    assert find(b, "#running-empty").text == "Nothing is running."
    b.shot("overview")


def test_a_failed_run_shows_its_traceback_and_log(signed_in: Browser, stack: Stack) -> None:
    b = signed_in
    b.get("/")
    find(b, f'#failures tr.failure-row[data-run-id="{stack.seeded.failed[0]}"] a').click()
    wait(b, lambda d: d.current_url.endswith(f"/runs/{stack.seeded.failed[0]}/"))
    assert find(b, "#run-status").get_attribute("data-status") == "failed"
    assert find(b, "#run-error-type").text == "decimal.InvalidOperation"
    assert find(b, "#run-error-message").text.startswith("price '12,99 €' is not a number")
    traceback = find(b, "#run-traceback")
    assert traceback.is_displayed()
    assert traceback.text.splitlines()[0] == "Traceback (most recent call last):"
    assert traceback.text.splitlines()[-1] == TRACEBACK.splitlines()[-1]
    # The chain: fetch done, parse failed, store never ran.
    stages = {g.get_attribute("data-family"): g.get_attribute("data-status") for g in find_all(b, "#chain-graph g.stage")}
    assert stages == {"FetchPages": "done", "ParsePages": "failed", "StoreItems": "not-run"}

    lines = find_all(b, "#log-lines tr.log-line")
    assert [row.get_attribute("data-seq") for row in lines] == ["1", "2", "3", "4", "5"]
    assert [row.find_element("css selector", ".log-level").text for row in lines] == [
        "INFO", "STDOUT", "WARNING", "INFO", "ERROR"]
    assert all(row.is_displayed() for row in lines)
    # The HTML/script line is text: shown as written, nothing injected, nothing run.
    assert lines[3].find_element("css selector", ".log-text").text == HOSTILE
    assert not find_all(b, "#injected") and not find_all(b, "#log-lines img") and not find_all(b, "main script")
    assert_no_alert(b)
    assert not find_all(b, "#log-follow") and not find_all(b, "#log-lines[data-follow-url]")  # finished: not followed
    b.shot("run-failed")

    # The level filter, done by the database: WARNING and above.
    from selenium.webdriver.support.ui import Select

    Select(find(b, "#log-level")).select_by_value("WARNING")
    find(b, "#log-apply").click()
    wait(b, lambda d: "level=WARNING" in d.current_url)
    assert [row.find_element("css selector", ".log-level").text for row in find_all(b, "#log-lines tr.log-line")] == [
        "WARNING", "ERROR"]
    b.shot("run-failed-warnings")

    # The download is the whole log as text (fetched with the browser's session cookie).
    cookie = b.driver.get_cookie("sessionid")["value"]
    request = urllib.request.Request(find(b, "#log-download").get_attribute("href"), headers={"Cookie": f"sessionid={cookie}"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        text = answer.read().decode()
        assert answer.headers["Content-Disposition"] == f'attachment; filename="run-{stack.seeded.failed[0]}.log"'
    assert len(text.splitlines()) == 5 and HOSTILE in text


def running_in_luigid(luigid: Luigid) -> dict:
    data = urllib.parse.urlencode({"data": json.dumps({"status": "RUNNING", "upstream_status": "", "search": ""})})
    with urllib.request.urlopen(f"{luigid.url}/api/task_list?{data}", timeout=5) as answer:
        return json.loads(answer.read())["response"]


def test_a_running_tasks_log_is_followed_live(signed_in: Browser, stack: Stack, tmp_path: Path) -> None:
    b, seed = signed_in, stack.seed
    # A task really running in luigid (progress 40 %, a status message), with its run record.
    stop_file = tmp_path / "stop"
    env = {**stack.luigid.env(), "PYTHONPATH": f"{ROOT}:{HERE}"}
    # Not from the repository root: Luigi would also read ./luigi.cfg there, whose
    # RunContext writes a run record of its own; this test writes the run record.
    worker = subprocess.Popen(
        [sys.executable, "-m", "luigi", "--module", "sleepy_tasks", "Nap", "--stop-file", str(stop_file)],
        cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        deadline, tasks = time.monotonic() + 30, {}
        while time.monotonic() < deadline and not any(t.get("progress_percentage") == 40 for t in tasks.values()):
            time.sleep(0.2)
            tasks = running_in_luigid(stack.luigid)
        [task_id] = tasks
        started = datetime.now(UTC) - timedelta(seconds=5)
        run_id = seed.run(
            family="Nap", crawl=None, task_id=task_id, params=json.dumps({"stop_file": str(stop_file)}),
            status="running", started_at=started, heartbeat_at=datetime.now(UTC),
        )
        seed.logs(run_id, [("INFO", "napping"), ("INFO", "still napping")], start=started)

        b.get("/")
        row = find(b, f'#running tr.running-task[data-task-id="{task_id}"]')
        assert row.find_element("css selector", ".progress-value").text == "40%"
        assert row.find_element("css selector", ".status-message").text == "napping <b>hard</b>"
        b.shot("overview-running")

        b.get(f"/runs/{run_id}/")
        assert find(b, "#run-status").get_attribute("data-status") == "running"
        assert find(b, "#luigid-progress .progress-value").text == "40%"
        assert find(b, "#log-lines").get_attribute("data-follow-url")
        assert find(b, "#log-follow").is_selected()
        assert [r.get_attribute("data-seq") for r in find_all(b, "#log-lines tr.log-line")] == ["1", "2"]
        # The heading counts the lines of a running run (its stored count is written only at the end).
        assert find(b, "#log-count").text == "2 lines"
        assert not find_all(b, "#attempts")  # the one run record of this task: ours
        assert [e.text.split()[-1] for e in find_all(b, "#run-timeline li.event")] == ["PENDING", "RUNNING"]
        b.driver.execute_script("window.__notReloaded = true;")

        # The worker writes more lines; the page shows them without a reload.
        seed.logs(
            run_id,
            [("INFO", "woke up for a moment"), ("WARNING", HOSTILE), ("ERROR", "dreamt of an exception")],
            start=datetime.now(UTC),
            first_seq=3,
        )
        wait(b, lambda d: len(find_all(b, "#log-lines tr.log-line")) == 5)
        wait(b, lambda d: find(b, "#log-count").text == "5 lines")  # the heading follows too
        rows = find_all(b, "#log-lines tr.log-line")
        assert [r.get_attribute("data-seq") for r in rows] == ["1", "2", "3", "4", "5"]
        assert rows[2].find_element("css selector", ".log-text").text == "woke up for a moment"
        assert rows[3].find_element("css selector", ".log-text").text == HOSTILE  # textContent: no markup
        assert rows[3].find_element("css selector", ".log-level").text == "WARNING"
        assert not find_all(b, "#injected") and not find_all(b, "#log-lines img")
        assert_no_alert(b)
        assert b.driver.execute_script("return window.__notReloaded === true;")
        assert find(b, "#log-status").text == "Following: run is running."
        b.shot("run-running-live")

        # The run ends: the follower says so and stops.
        stop_file.touch()
        worker.wait(30)
        with seed.engine.begin() as conn:
            now = datetime.now(UTC)
            conn.execute(
                run_models.runs.update().where(run_models.runs.c.id == run_id)
                .values(status="done", finished_at=now, heartbeat_at=now)
            )
        seed.logs(run_id, [("INFO", "done napping")], start=datetime.now(UTC), first_seq=6)
        wait(b, lambda d: "finished" in find(b, "#log-status").text)
        assert find(b, "#log-status").text == "The run finished (done). Reload for the final state."
        assert find(b, "#run-status").get_attribute("data-status") == "done"
        assert len(find_all(b, "#log-lines tr.log-line")) == 6
        assert find(b, "#log-count").text == "6 lines"
        assert b.driver.execute_script("return window.__notReloaded === true;")
        b.shot("run-finished-live")
    finally:
        stop_file.touch()
        worker.wait(30)
        with seed.engine.begin() as conn:  # leave the other tests the seeded runs only
            conn.execute(sa.delete(run_models.run_logs).where(run_models.run_logs.c.run_id.in_(
                sa.select(run_models.runs.c.id).where(run_models.runs.c.family == "Nap"))))
            conn.execute(sa.delete(run_models.runs).where(run_models.runs.c.family == "Nap"))


def test_a_runs_stats_read_as_tables_with_units_and_bars(signed_in: Browser, stack: Stack) -> None:
    b, seed = signed_in, stack.seed
    stats = {
        "fetched": 1_042, "failed": 9, "bytes": 939_454, "elapsed_s": 125.5, "pages_per_s": 8.3,
        "responses_by_status": {"200": 700, "404": 250, "301": 92},
        "failed_by_reason": {"timeout": 6, "http_404": 3},
        "middleware": {"robots/allowed": 1_051},
        "note": HOSTILE,
    }
    run_id = seed.run(family="FetchPages", crawl="statsy", task_id="FetchPages_statsy_2026_11_21T0730_abc",
                      status="done", started_at=datetime.now(UTC) - timedelta(minutes=3), stats=stats)
    try:
        b.get(f"/runs/{run_id}/")
        table = find(b, "#run-stats")

        def value(key: str) -> str:
            return table.find_element("css selector", f'tr[data-key="{key}"] > td').text

        assert table.find_element("css selector", 'tr[data-key="fetched"] > th').text == "Pages fetched"
        assert value("fetched") == "1,042"
        assert value("bytes") == "917.4 KiB"
        assert value("elapsed_s") == "2 min 06 s"  # 125.5 s, rounded
        assert value("pages_per_s") == "8.3 pages/s"
        bars = table.find_elements("css selector", 'tr[data-key="responses_by_status"] tr.hbar')
        assert [bar.find_element("css selector", "th").text for bar in bars] == ["200", "404", "301"]
        widths = [int(bar.find_element("css selector", "rect").get_attribute("width")) for bar in bars]
        assert widths[0] > widths[1] > widths[2] > 0
        assert all(bar.find_element("css selector", "rect").is_displayed() for bar in bars)
        sub = table.find_element("css selector", 'tr[data-key="middleware"] table.stats')
        assert sub.find_element("css selector", 'tr[data-key="robots/allowed"] > td').text == "1,051"
        assert value("note") == HOSTILE  # an unknown key: shown, as text
        assert not find_all(b, "#injected")
        assert_no_alert(b)
        b.shot("run-stats")
    finally:
        with seed.engine.begin() as conn:
            conn.execute(sa.delete(run_models.runs).where(run_models.runs.c.id == run_id))


def rows_of(b: Browser) -> list[tuple[int, str, str, str]]:
    """(run id, status, crawl, family) of the rows shown."""
    return [
        (
            int(row.get_attribute("data-run-id")),
            row.get_attribute("data-status"),
            row.find_element("css selector", "td.crawl").text,
            row.find_element("css selector", "td.family").text,
        )
        for row in find_all(b, "#runs tr.run-row")
    ]


def starts_of(b: Browser) -> list[tuple[str, int]]:
    """(start time as ISO text, run id) of the rows shown: the list's sort key."""
    return [
        (row.find_element("css selector", "td.started time").get_attribute("datetime"), int(row.get_attribute("data-run-id")))
        for row in find_all(b, "#runs tr.run-row")
    ]


def test_filter_runs_with_the_form(signed_in: Browser, stack: Stack) -> None:
    from selenium.webdriver.support.ui import Select

    b = signed_in
    b.get("/")
    find(b, "#nav-runs").click()
    wait(b, lambda d: find(b, "body").get_attribute("id") == "page-runs")
    first = starts_of(b)
    assert len(first) == PAGE_SIZE
    assert first == sorted(first, reverse=True)  # newest first, by (started_at, id)
    b.shot("runs")

    # Older ›: the next page continues below the first, by keyset.
    find(b, "#page-older").click()
    wait(b, lambda d: "before=" in d.current_url)
    second = starts_of(b)
    assert len(second) == PAGE_SIZE and second == sorted(second, reverse=True) and second[0] < first[-1]
    assert find(b, "#page-newest").is_displayed() and find(b, "#page-newer").is_displayed()

    # Crawl shop, status failed: exactly the two failed ParsePages runs.
    b.get("/runs/")
    Select(find(b, "#filter-crawl")).select_by_value("shop")
    Select(find(b, "#filter-status")).select_by_value("failed")
    find(b, "#filter-apply").click()
    wait(b, lambda d: "status=failed" in d.current_url)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(b.driver.current_url).query)
    assert query["crawl"] == ["shop"] and query["status"] == ["failed"]
    assert rows_of(b) == [(i, "failed", "shop", "ParsePages") for i in stack.seeded.failed]
    assert Select(find(b, "#filter-crawl")).first_selected_option.get_attribute("value") == "shop"
    assert not find_all(b, "#page-older")
    b.shot("runs-filtered-failed-shop")

    # Crawl books and family StoreItems: one run per tick, all done.
    find(b, "#filter-reset").click()
    wait(b, lambda d: urllib.parse.urlsplit(d.current_url).query == "")
    Select(find(b, "#filter-crawl")).select_by_value("books")
    Select(find(b, "#filter-family")).select_by_value("StoreItems")
    find(b, "#filter-apply").click()
    wait(b, lambda d: "family=StoreItems" in d.current_url)
    rows = rows_of(b)
    assert len(rows) == 8 and {r[1:] for r in rows} == {("done", "books", "StoreItems")}
    b.shot("runs-filtered-books-store")

    # A filter matching nothing says so.
    Select(find(b, "#filter-status")).select_by_value("killed")
    find(b, "#filter-apply").click()
    wait(b, lambda d: "status=killed" in d.current_url)
    assert find(b, "#runs-empty").is_displayed() and not find_all(b, "#runs tr.run-row")


def test_crawl_and_families_pages(signed_in: Browser, stack: Stack) -> None:
    b = signed_in
    b.get("/")
    find(b, '#crawls tr.crawl-row[data-crawl="shop"] td.crawl-name a').click()
    wait(b, lambda d: find(b, "body").get_attribute("id") == "page-crawl")
    assert find(b, "#crawl-title .crawl-name").text == "shop"
    assert len(find_all(b, "#duration-trend rect")) >= 12
    days = find_all(b, "#calendar rect.day")
    assert len(days) >= 90
    # 2 of 12 ticks failed, on one day or two: a shade of some failed, no red day
    assert find_all(b, "#calendar rect.day.day-few, #calendar rect.day.day-some")
    assert not find_all(b, "#calendar rect.day.day-failed")
    assert [r.get_attribute("data-run-id") for r in find_all(b, "#crawl-failures tr.failure-row")] == [
        str(i) for i in stack.seeded.failed]
    b.shot("crawl-shop")

    find(b, "#nav-families").click()
    wait(b, lambda d: find(b, "body").get_attribute("id") == "page-families")
    families = {row.get_attribute("data-family"): row for row in find_all(b, "#families tr.family-row")}
    assert {"FetchPages", "ParsePages", "StoreItems", "RunCrawl"} <= set(families)
    assert families["ParsePages"].find_element("css selector", "td.runs").text == "20"
    assert families["ParsePages"].find_element("css selector", "td.failed").text == "2"
    b.shot("families")


def test_the_tasks_page_lists_filters_and_opens_luigis_tasks(signed_in: Browser, stack: Stack) -> None:
    b = signed_in
    now = datetime.now(UTC)
    pks = []
    for i in range(12):  # Luigi's own records, as luigid writes them: more than a page (PAGE_SIZE 10)
        family = "ExportFeed" if i % 2 else "CheckLinks"
        events = [("PENDING", now - timedelta(minutes=30 - i)), ("RUNNING", now - timedelta(minutes=29 - i)),
                  ("FAILED" if i % 4 == 1 else "DONE", now - timedelta(minutes=28 - i))]
        pks.append(stack.seed.luigi_task(f"{family}_part{i}_h{i:04d}", family, {"part": str(i)}, events))
    hostile = stack.seed.luigi_task("Evil_1", "Evil", {"note": HOSTILE}, [("PENDING", now)], host=HOSTILE)

    b.get("/")
    find(b, "#nav-tasks").click()
    wait(b, lambda d: find(b, "body").get_attribute("id") == "page-tasks")
    rows = find_all(b, "#tasks tr.task-row")
    assert [int(r.get_attribute("data-task-pk")) for r in rows] == sorted([hostile, *pks], reverse=True)[:10]
    assert_no_alert(b)
    assert not find_all(b, "#injected")  # the hostile host is text, not markup
    b.shot("tasks")
    find(b, "#tasks-older").click()
    wait(b, lambda d: "before=" in d.current_url)
    assert [int(r.get_attribute("data-task-pk")) for r in find_all(b, "#tasks tr.task-row")][:3] == sorted(
        [hostile, *pks], reverse=True)[10:13]

    from selenium.webdriver.support.ui import Select

    b.get("/tasks/")
    find(b, "#task-filter-family").send_keys("ExportFeed")
    Select(find(b, "#task-filter-status")).select_by_value("FAILED")
    find(b, "#task-filter-apply").click()
    wait(b, lambda d: "status=FAILED" in d.current_url)
    failed = [int(r.get_attribute("data-task-pk")) for r in find_all(b, "#tasks tr.task-row")]
    assert failed == [pks[i] for i in (9, 5, 1)]
    assert {r.get_attribute("data-status") for r in find_all(b, "#tasks tr.task-row")} == {"FAILED"}
    b.shot("tasks-filtered")

    find(b, f'#tasks tr.task-row[data-task-pk="{pks[9]}"] td.task-pk a').click()
    wait(b, lambda d: find(b, "body").get_attribute("id") == "page-task")
    assert find(b, "#task-task-id").text == "ExportFeed_part9_h0009"
    assert [e.text.split()[0] for e in find_all(b, "#task-events li.event")] == ["FAILED", "RUNNING", "PENDING"]
    assert find(b, '#task-params tr.param-row[data-name="part"] td.param-value').text == "9"
    b.shot("task")

    b.get(f"/tasks/{hostile}/")
    assert HOSTILE in find(b, '#task-params tr.param-row[data-name="note"] td.param-value').text
    assert not find_all(b, "#injected")
    assert_no_alert(b)


def test_log_out_with_the_button(signed_in: Browser) -> None:
    b = signed_in
    b.get("/families/")
    find(b, "#logout-button").click()
    wait(b, lambda d: "/login/" in d.current_url)
    b.get("/")
    wait(b, lambda d: "/login/" in d.current_url)
    assert find(b, "body").get_attribute("id") == "page-login"


def test_kept_alive_requests_are_not_held_back_by_nagle(stack: Stack) -> None:
    """runserver writes headers and body in separate send()s: without TCP_NODELAY (webmon/wsgi.py)
    the body waits for the client's delayed ACK, +40 ms on every request of a kept-alive connection."""
    import statistics

    import requests

    with requests.Session() as session:  # one kept-alive connection, as a browser's
        assert session.get(f"{stack.url}/healthz", timeout=10).status_code == 200
        times = []
        for _ in range(15):
            started = time.perf_counter()
            answer = session.get(f"{stack.url}/healthz", timeout=10)
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
    # Nagle's stall is a floor (the peer's delayed ACK, 40 ms on Linux) under every request, so the
    # fastest of 15 says whether it is there; a median also measures how busy the machine is.
    assert min(times) < 35, f"fastest of 15 took {min(times):.1f} ms (median {statistics.median(times):.1f}): {times}"


def test_a_crawl_whose_only_tick_failed_reads_0_percent_and_a_red_day(signed_in: Browser, stack: Stack) -> None:
    """What a person sees of ticks: the overview's rate, the calendar's red day and its whole last month label."""
    b = signed_in
    at = stack.seeded.now - timedelta(minutes=30)
    ids = stack.seed.tick("solo", at, statuses={"StoreItems": "failed"})  # 2 run records done, 1 failed
    try:
        b.get("/")
        row = find(b, '#crawls tr.crawl-row[data-crawl="solo"]')
        assert row.find_element("css selector", "td.rate").text == "0% of 1 tick"
        assert "ticks" in find(b, "#crawls th[title]").get_attribute("title")
        b.shot("overview-ticks")

        row.find_element("css selector", "td.crawl-name a").click()
        wait(b, lambda d: find(b, "body").get_attribute("id") == "page-crawl")
        day = find(b, f'#calendar rect.day[data-day="{at.date().isoformat()}"]')
        assert "day-failed" in day.get_attribute("class")
        red = b.driver.execute_script("return getComputedStyle(arguments[0]).fill", day)
        legend = b.driver.execute_script(
            "return getComputedStyle(document.querySelector('#calendar-legend .key.day-failed')).backgroundColor")
        assert red == legend == "rgb(198, 40, 40)"  # --bad
        assert day.find_element("css selector", "title").get_attribute("textContent") == f"{at.date()}: 1 tick, 1 failed"
        size = b.driver.execute_script("return arguments[0].getBBox().width", day)
        assert size >= 16
        # Every month label lies wholly inside the SVG, the last one included.
        boxes = b.driver.execute_script(
            "const svg = document.getElementById('calendar');"
            "return [svg.getBoundingClientRect().toJSON(),"
            " [...svg.querySelectorAll('text.month')].map(t => [t.textContent, t.getBoundingClientRect().toJSON()])]")
        frame, labels = boxes
        assert labels
        for text, box in labels:
            assert frame["left"] <= box["left"] and box["right"] <= frame["right"], (text, box, frame)
            assert box["width"] > 0
        assert frame["width"] <= 1300  # 90 days fit the window
        b.shot("crawl-solo-ticks")
    finally:
        with stack.seed.engine.begin() as conn:
            conn.execute(run_models.runs.delete().where(run_models.runs.c.id.in_(list(ids.values()))))
