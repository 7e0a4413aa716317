"""The overview and the schedule buttons as a person sees them, in a real headless Chromium against a real webmon.

The history holds ticks of three crawls (shop's newest failed, books and alpha done); `manage.py shell`
makes the schedules in webmon's DB: shop down, books up, alpha paused, news new and due in 10 minutes
(a daily cron in Asia/Taipei, never run), and a BackupDatabase schedule down. The browser fixtures (and
the no-CSP-violation check after every test) are test_browser_ui's; screenshots go to test-artifacts/webmon/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from history_seed import HistorySeed
from test_browser_ui import CHROMEDRIVER, CHROMIUM, PASSWORD, Browser, find, find_all, wait
from test_browser_ui import browser as browser  # noqa: F401 - fixtures used by name
from test_browser_ui import clean_console as clean_console  # noqa: F401
from test_browser_ui import signed_in as signed_in  # noqa: F401
from webmon_support import webmon_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's /usr/bin/chromium and /usr/bin/chromedriver"),
]

SCHEDULES = """
from datetime import UTC, timedelta
from zoneinfo import ZoneInfo
from django.utils import timezone
from webmon.scheduling.models import Schedule
due = (timezone.now() + timedelta(minutes=10)).astimezone(UTC).replace(second=0, microsecond=0)
local = due.astimezone(ZoneInfo("Asia/Taipei"))
start = timezone.now() - timedelta(days=30)
Schedule.objects.create(name="news-daily", crawl="news", cron=f"{local.minute} {local.hour} * * *",
                        timezone="Asia/Taipei", start_at=start)
Schedule.objects.create(name="shop-hourly", crawl="shop", cron="0 * * * *", state="down", start_at=start)
Schedule.objects.create(name="books-hourly", crawl="books", cron="0 * * * *", state="up", start_at=start)
Schedule.objects.create(name="alpha-hourly", crawl="alpha", cron="0 * * * *", state="paused", enabled=False,
                        start_at=start)
Schedule.objects.create(name="backup-history", task="BackupDatabase", task_params={"db": "history"},
                        cron="0 2 * * *", state="down", start_at=start)
print(due.isoformat())
"""


@dataclass
class OverviewStack:
    url: str
    news_due: datetime


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OverviewStack]:
    home = tmp_path_factory.mktemp("browser-overview")
    history_url = f"sqlite:///{home / 'history.db'}"
    seed = HistorySeed(history_url)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    for hours in (3, 2, 1):
        at = now - timedelta(hours=hours)
        seed.tick("shop", at, statuses={"ParsePages": "failed"} if hours == 1 else None)
        seed.tick("books", at)
        seed.tick("alpha", at)
    seed.engine.dispose()
    config = home / "luigi.cfg"
    config.write_text(f"[task_history]\ndb_connection = {history_url}\n")
    with webmon_server(home, config, PASSWORD, shell=SCHEDULES) as (url, printed):
        yield OverviewStack(url, datetime.fromisoformat(printed.splitlines()[-1]))


def colour(element, prop: str = "background-color") -> str:  # noqa: ANN001 - a selenium WebElement
    return element.value_of_css_property(prop)


def rgb(css: str) -> tuple[int, int, int]:
    """(r, g, b) of a computed colour, "rgb(1, 2, 3)" or "rgba(1, 2, 3, 1)"."""
    r, g, b = (int(v) for v in re.findall(r"\d+", css)[:3])
    return r, g, b


def test_the_overview_puts_trouble_first_with_coloured_states_and_next_runs(
    signed_in: Browser, stack: OverviewStack
) -> None:
    b = signed_in
    b.get("/")
    rows = find_all(b, "#crawls tr.crawl-row")
    assert [r.get_attribute("data-crawl") for r in rows] == ["shop", "books", "alpha", "news"]
    by_name = {r.get_attribute("data-crawl"): r for r in rows}
    state = {name: row.find_element("css selector", "td.schedule-state .schedule-state") for name, row in by_name.items()}
    assert {name: badge.text for name, badge in state.items()} == {
        "shop": "down", "books": "up", "alpha": "paused", "news": "new"}
    # down is drawn as a failed run is, up as a done one; each state its own colour.
    failed_run = by_name["shop"].find_element("css selector", "td.last-run .status")
    done_run = by_name["books"].find_element("css selector", "td.last-run .status")
    assert colour(state["shop"]) == colour(failed_run) and colour(state["shop"], "color") == colour(failed_run, "color")
    assert colour(state["books"]) == colour(done_run)
    assert len({colour(state[name]) for name in ("shop", "books", "alpha")}) == 3
    red, green, _ = rgb(colour(state["shop"]))
    assert red > green  # reddish
    red, green, _ = rgb(colour(state["books"]))
    assert green > red  # greenish
    # news: never run, scheduled; its next run is its cron's next tick, 10 minutes from the start of the stack.
    news = by_name["news"].find_element("css selector", "td.next-run").text
    assert news.startswith(f"{stack.news_due:%Y-%m-%d %H:%M} UTC (in ")
    assert by_name["alpha"].find_element("css selector", "td.next-run").text == "paused"
    counts = find(b, "#state-counts")
    assert counts.text == "2 down · 1 up · 1 paused · 1 other"
    assert colour(find(b, '#state-counts a[data-group="down"]')) == colour(state["shop"])
    others = find_all(b, "#other-schedules tr.other-schedule")
    assert [r.get_attribute("data-schedule") for r in others] == ["backup-history"]
    assert others[0].find_element("css selector", ".schedule-state").text == "down"
    b.shot("overview-schedules")

    find(b, '#state-counts a[data-group="down"]').click()
    wait(b, lambda d: d.current_url.endswith("?show=down"))
    assert [r.get_attribute("data-crawl") for r in find_all(b, "#crawls tr.crawl-row")] == ["shop"]
    assert find(b, "#state-counts").text.startswith("2 down")
    find(b, "#show-all").click()
    wait(b, lambda d: len(find_all(b, "#crawls tr.crawl-row")) == 4)


def ua_default(b: Browser, prop: str) -> str:
    """What Chromium draws a button with when no style sheet of the page applies (one in a shadow root)."""
    return b.driver.execute_script(
        "const host = document.createElement('div'); document.body.appendChild(host);"
        "const button = document.createElement('button'); host.attachShadow({mode: 'open'}).appendChild(button);"
        "const value = getComputedStyle(button).getPropertyValue(arguments[0]); host.remove(); return value;",
        prop,
    )


def test_the_action_buttons_are_styled_like_the_rest_of_the_ui(signed_in: Browser, stack: OverviewStack) -> None:
    b = signed_in
    b.get("/schedules/")
    pause = find(b, 'tr[data-schedule="shop-hourly"] button.pause')
    resume = find(b, 'tr[data-schedule="alpha-hourly"] button.resume')
    for button in (pause, resume):
        assert button.is_displayed()
        assert button.value_of_css_property("border-top-left-radius") == "4px"
        assert colour(button) != ua_default(b, "background-color")
        assert colour(button, "border-top-color") != ua_default(b, "border-top-color")
        assert button.value_of_css_property("cursor") == "pointer"
    b.shot("schedules-buttons")
    b.get("/schedules/")
    find(b, 'tr[data-schedule="shop-hourly"] td.schedule-name a').click()
    wait(b, lambda d: find_all(b, "#pause-button"))
    for css in ("#pause-button", "#trigger-form button"):
        button = find(b, css)
        assert button.value_of_css_property("border-top-left-radius") == "4px", css
        assert colour(button) != ua_default(b, "background-color"), css
    b.shot("schedule-buttons")
