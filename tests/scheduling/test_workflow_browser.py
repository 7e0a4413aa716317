"""A workflow schedule made in the admin with a real headless Chromium against a real webmon server.

The admin suggests the known task classes, shows a bad parameter's sentence next to
the field, saves the fixed schedule; the schedules page then shows its class and
parameters as text (a hostile value stays text). No CSP violation or console error.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port, make_luigid, stop, wait_http

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = ROOT / "test-artifacts" / "scheduling"
PASSWORD = "workflow-browser-password-5"  # a throwaway user of a throwaway DB
HOSTILE = '<b id="injected">bold?</b>'

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's /usr/bin/chromium and /usr/bin/chromedriver"),
]


@pytest.fixture(scope="module")
def webmon_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    home = tmp_path_factory.mktemp("workflow-browser")
    luigid = make_luigid(home)  # only its luigi.cfg: the admin reads the history DB of it, nothing is run
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CRAWL_", "WEBMON_", "DJANGO_"))},
        "TZ": "UTC", "DEBUG": "true", "SECRET_KEY": "browser-tests-only-not-a-secret",
        "DATABASE_URL": f"sqlite:///{home / 'webmon.db'}", "LUIGI_CONFIG_PATH": str(luigid.config),
        "LUIGID_URL": luigid.url, "WEBMON_ADMIN_PASSWORD": PASSWORD,
        "CRAWLOPS_WORKFLOW_MODULES": "tests.workflow_tasks",
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    for args in (["migrate", "--noinput", "-v", "0"], ["ensure_admin"]):
        done = subprocess.run([*manage, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
    port = free_port()
    with open(home / "webmon.log", "wb") as out:
        web = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/login/", timeout=60, proc=web)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop(web)


@pytest.fixture(scope="module")
def driver(webmon_url: str) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)  # never Selenium Manager: it would download a browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--no-first-run", "--window-size=1300,1800"):
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="workflow-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    chrome = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        chrome.set_page_load_timeout(30)
        yield chrome
    finally:
        chrome.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_a_workflow_schedule_is_made_in_the_admin_and_listed_with_its_class(driver, webmon_url: str) -> None:  # noqa: ANN001
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def find(css: str):  # noqa: ANN202
        return driver.find_element(By.CSS_SELECTOR, css)

    def submit() -> None:
        """Save, and wait until the answer replaced this page (the next checks must read the new one)."""
        from selenium.webdriver.support import expected_conditions

        page = find("html")
        find("input[name=_save]").click()
        WebDriverWait(driver, 30, poll_frequency=0.1).until(expected_conditions.staleness_of(page))
        WebDriverWait(driver, 30, poll_frequency=0.1).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#content"))

    def shot(name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))

    driver.get(webmon_url + "/login/")
    find("#id_username").send_keys("admin")
    find("#id_password").send_keys(PASSWORD)
    find("#login-button").click()
    # The login POST must have set the session before the next page is asked for.
    WebDriverWait(driver, 30, poll_frequency=0.1).until(
        lambda d: d.find_elements(By.CSS_SELECTOR, "#logout-form"))

    driver.get(webmon_url + "/admin/scheduling/schedule/add/")
    WebDriverWait(driver, 30, poll_frequency=0.1).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#id_task"))
    options = [o.get_attribute("value") for o in driver.find_elements(By.CSS_SELECTOR, "datalist#id_task-options option")]
    assert options == ["RunCrawl", "BackupDatabase", "PruneHistory", "tests.workflow_tasks.WriteReport",
                       "tests.workflow_tasks.LoadWarehouse", "tests.workflow_tasks.SlowExport"]
    assert find("#id_task").get_attribute("list") == "id_task-options"
    find("#id_name").send_keys("reports")
    find("#id_task").clear()
    find("#id_task").send_keys("tests.workflow_tasks.WriteReport")
    find("#id_task_params").clear()
    find("#id_task_params").send_keys('{"out_dir": "/srv/reports", "rows": "many"}')
    find("#id_cron").send_keys("0 6 * * *")
    submit()

    error = find(".field-task_params .errorlist")
    assert error.text == 'rows: expected a whole number, got "many".'
    shot("admin-workflow-error")
    find("#id_task_params").clear()
    find("#id_task_params").send_keys(json.dumps({"out_dir": "/srv/reports", "rows": 5, "tags": [HOSTILE]}))
    submit()
    assert driver.current_url.endswith("/admin/scheduling/schedule/"), find("#content").text[:2000]

    driver.get(webmon_url + "/schedules/")
    row = find('tr.schedule-row[data-schedule="reports"]')
    assert row.find_element(By.CSS_SELECTOR, "code.task-class").text == "tests.workflow_tasks.WriteReport"
    assert row.find_element(By.CSS_SELECTOR, "code.task-params").text == (
        '{"out_dir": "/srv/reports", "rows": 5, "tags": ["<b id=\\"injected\\">bold?</b>"]}')
    assert not driver.find_elements(By.CSS_SELECTOR, "#injected")
    shot("schedules-workflow")
    console = [e for e in driver.get_log("browser") if "/favicon.ico" not in e["message"]]  # webmon has none
    assert not [e for e in console if e["level"] == "SEVERE" or "Content Security Policy" in e["message"]], console
