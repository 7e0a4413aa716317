"""webmon in each language in a real headless Chromium (issue 14): the browser's language, then the user's.

One Chromium per language (module-scoped), set up as a person's browser is: `--lang` and the
`intl.accept_languages` preference, so the pages are chosen from its Accept-Language. Each test
logs in through the form, opens pages, checks their translated headings, saves a screenshot
(test-artifacts/webmon/i18n-<language>-<page>.png) and ends with no CSP violation and no error in
the browser console. The stack (seeded history, real luigid, webmon under runserver) is the one of
test_browser_ui.py.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from tests.webmon.test_browser_ui import CHROMEDRIVER, CHROMIUM, PASSWORD, Browser, Stack, stack  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
        reason="needs Debian's /usr/bin/chromium and /usr/bin/chromedriver",
    ),
]

# Accept-Language of the browser -> the words each page's <h1> shows.
HEADINGS = {
    "en-US": {"login": "Log in", "overview": "Overview", "runs": "Runs", "tasks": "Tasks",
              "families": "Task families", "workers": "Workers", "schedules": "Schedules", "settings": "Settings"},
    "zh-TW": {"login": "登入", "overview": "總覽", "runs": "執行紀錄", "tasks": "任務",
              "families": "任務類別", "workers": "工作程序", "schedules": "排程", "settings": "設定"},
    "zh-CN": {"login": "登录", "overview": "概览", "runs": "运行记录", "tasks": "任务",
              "families": "任务类别", "workers": "工作进程", "schedules": "调度计划", "settings": "设置"},
}
PATHS = {"overview": "/", "runs": "/runs/", "tasks": "/tasks/", "families": "/families/", "workers": "/workers/",
         "schedules": "/schedules/", "settings": "/settings/"}
HTML_LANG = {"en-US": "en", "zh-TW": "zh-hant", "zh-CN": "zh-hans"}


@contextmanager
def chromium(language: str, url: str) -> Iterator[Browser]:
    """A headless Chromium whose user's language is `language`."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)  # never Selenium Manager: it would download a browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--no-first-run",
                 "--window-size=1300,900", f"--lang={language}"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"intl.accept_languages": f"{language},{language.split('-')[0]}"})
    profile = tempfile.mkdtemp(prefix="webmon-chromium-i18n-")
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(str(CHROMEDRIVER)))
    try:
        driver.set_page_load_timeout(30)
        yield Browser(driver, url)
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module", params=list(HEADINGS))
def localized(request: pytest.FixtureRequest, stack: Stack) -> Iterator[tuple[str, Browser]]:  # noqa: F811
    with chromium(request.param, stack.url) as browser:
        yield request.param, browser


@pytest.fixture(scope="module")
def taiwanese(stack: Stack) -> Iterator[Browser]:  # noqa: F811
    with chromium("zh-TW", stack.url) as browser:
        yield browser


def find(browser: Browser, css: str):  # noqa: ANN201
    from selenium.webdriver.common.by import By

    return browser.driver.find_element(By.CSS_SELECTOR, css)


def wait(browser: Browser, condition, timeout: float = 10):  # noqa: ANN001, ANN201
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.support.ui import WebDriverWait

    # The page is replaced while the condition looks at it (a form was sent): look again.
    return WebDriverWait(browser.driver, timeout, poll_frequency=0.1,
                         ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def assert_clean_console(browser: Browser) -> None:
    entries = browser.drain_console()
    csp = [e["message"] for e in entries if "Content Security Policy" in e["message"] or "Refused to" in e["message"]]
    assert not csp, f"CSP violations in the browser console: {csp}"
    errors = [e["message"] for e in entries if e["level"] == "SEVERE"]
    assert not errors, f"errors in the browser console: {errors}"


def log_in(browser: Browser, language: str) -> None:
    browser.driver.delete_all_cookies()
    browser.get("/login/")
    assert find(browser, "html").get_attribute("lang") == HTML_LANG[language]
    assert find(browser, "h1").text == HEADINGS[language]["login"]
    browser.shot(f"i18n-{language}-login")
    find(browser, "#id_username").send_keys("admin")
    find(browser, "#id_password").send_keys(PASSWORD)
    find(browser, "#login-button").click()
    wait(browser, lambda d: "/login/" not in d.current_url)


def test_pages_follow_the_browsers_language(localized: tuple[str, Browser], stack: Stack) -> None:  # noqa: F811
    language, b = localized
    b.console.clear()
    log_in(b, language)
    for page, path in PATHS.items():
        b.get(path)
        assert find(b, "html").get_attribute("lang") == HTML_LANG[language], page
        assert find(b, "h1").text.startswith(HEADINGS[language][page]), (page, find(b, "h1").text)
        assert find(b, "#nav-overview").text == HEADINGS[language]["overview"]
        b.shot(f"i18n-{language}-{page}")
    # A run page: its status word and the log viewer's sentences for the live tail are translated too.
    b.get(f"/runs/{stack.seeded.failed[0]}/")
    status = find(b, "#run-status")
    assert status.get_attribute("data-status") == "failed"
    assert status.text == {"en-US": "failed", "zh-TW": "失敗", "zh-CN": "失败"}[language]
    b.shot(f"i18n-{language}-run")
    assert_clean_console(b)


def test_the_users_setting_wins_and_shows_times_in_their_zone(taiwanese: Browser) -> None:
    """A Traditional Chinese browser whose user chooses Simplified Chinese and Asia/Taipei."""
    from selenium.webdriver.support.ui import Select

    language, b = "zh-TW", taiwanese
    b.console.clear()
    log_in(b, language)
    b.get("/settings/")
    Select(find(b, "#settings-language")).select_by_value("zh-hans")
    Select(find(b, "#settings-time-zone")).select_by_value("Asia/Taipei")
    find(b, "#settings-save").click()
    wait(b, lambda d: find(b, "h1").text == "设置")
    assert "已保存" in find(b, "#messages").text
    assert b.driver.get_cookie("django_language")["value"] == "zh-hans"
    b.get("/runs/")
    assert find(b, "h1").text == "运行记录"  # the choice, not the browser's zh-TW
    assert "Asia/Taipei" in find(b, "#footer").text
    started = find(b, "#runs tr.run-row td.started time")
    assert started.get_attribute("title").endswith(" UTC")  # the local time's UTC, on hover
    b.shot("i18n-user-choice-runs")
    # Back to the browser's language and UTC.
    b.get("/settings/")
    Select(find(b, "#settings-language")).select_by_value("")
    Select(find(b, "#settings-time-zone")).select_by_value("UTC")
    find(b, "#settings-save").click()
    wait(b, lambda d: find(b, "h1").text == "設定")
    assert_clean_console(b)
