"""The charts in a real headless Chromium (Selenium): what a person sees at two window widths.

The stack (history DB seeded with two crawls, luigid, webmon) and the browser fixtures, with the
no-CSP-violation check after every test, are test_browser_ui's. Screenshots at each width are saved as
test-artifacts/webmon/charts-<page>-<width>.png.
"""

from __future__ import annotations

import pytest
from test_browser_ui import ARTIFACTS, CHROMEDRIVER, CHROMIUM, Browser, Stack, find, find_all
from test_browser_ui import browser as browser  # noqa: F401 - fixtures used by name
from test_browser_ui import clean_console as clean_console  # noqa: F401
from test_browser_ui import signed_in as signed_in  # noqa: F401
from test_browser_ui import stack as stack  # noqa: F401

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's /usr/bin/chromium and /usr/bin/chromedriver"),
]

WIDTHS = (800, 1400)
BOX = "const r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom];"


def box(b: Browser, element) -> tuple[float, float, float, float]:  # noqa: ANN001 - a WebElement
    return tuple(b.driver.execute_script(BOX, element))


def overlaps(a: tuple[float, ...], c: tuple[float, ...]) -> bool:
    return a[0] < c[2] and c[0] < a[2] and a[1] < c[3] and c[1] < a[3]


def at_width(b: Browser, width: int, path: str) -> None:
    b.driver.set_window_size(width, 900)
    b.get(path)


def shot(b: Browser, name: str, width: int) -> None:
    """A full-page PNG at this window width (Browser.shot takes its pictures at 1300 px)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = b.driver.execute_script("return document.documentElement.scrollHeight")
    b.driver.set_window_size(width, min(int(height) + 150, 6000))
    try:
        assert b.driver.save_screenshot(str(ARTIFACTS / f"charts-{name}-{width}.png"))
    finally:
        b.driver.set_window_size(width, 900)


def check_chart(b: Browser, svg_id: str) -> list:
    """The chart fills its container, its labels are readable, inside it and apart; returns its bars."""
    svg = find(b, f"svg#{svg_id}")
    outer = box(b, svg)
    container = box(b, find(b, f"svg#{svg_id}").find_element("xpath", ".."))
    assert outer[2] - outer[0] == pytest.approx(container[2] - container[0], abs=1.5), "fills its container"
    labels = find_all(b, f"svg#{svg_id} text.x-label, svg#{svg_id} text.x-date, svg#{svg_id} text.y-label")
    assert len(labels) >= 4
    boxes = []
    for label in labels:
        assert label.is_displayed() and label.text.strip()
        size = float(b.driver.execute_script("return getComputedStyle(arguments[0]).fontSize", label)[:-2])
        assert size >= 11, f"{label.text!r} is {size} px"
        lb = box(b, label)
        assert outer[0] - 0.5 <= lb[0] and lb[2] <= outer[2] + 0.5, f"{label.text!r} sticks out of the chart"
        assert lb[3] - lb[1] >= 10
        boxes.append((label.text, lb))
    for i, (text, one) in enumerate(boxes):
        for other, two in boxes[i + 1:]:
            assert not overlaps(one, two), f"labels {text!r} and {other!r} overlap"
    return find_all(b, f"svg#{svg_id} rect.bar, svg#{svg_id} rect.gantt-bar")


def title_of(b: Browser, element) -> str:  # noqa: ANN001 - a WebElement
    return b.driver.execute_script("return arguments[0].querySelector('title').textContent", element)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_crawl_pages_charts_have_readable_axes_at_any_width(signed_in: Browser, width: int) -> None:
    b = signed_in
    at_width(b, width, "/crawl/?name=shop")
    bars = check_chart(b, "duration-trend")
    assert len(bars) == 12
    plot = box(b, find(b, "svg#duration-trend line.axis"))
    for bar in bars:
        r = box(b, bar)
        assert plot[0] - 0.5 <= r[0] and r[2] <= plot[2] + 0.5 and r[3] <= plot[3] + 1
    assert [label.text for label in find_all(b, "svg#duration-trend text.y-label")][:2] == ["0 s", "30 s"]
    title = title_of(b, bars[-1])
    assert " UTC: done, " in title and title.endswith(" s"), title  # the time, the status and the duration
    items = check_chart(b, "items-stored")
    assert all(title_of(b, bar).endswith("100 items, 10 new, 5 changed") for bar in items)
    shot(b, "crawl", width)


@pytest.mark.parametrize("width", WIDTHS)
def test_the_run_pages_gantt_has_a_clock_and_titled_bars(signed_in: Browser, stack: Stack, width: int) -> None:  # noqa: F811
    b = signed_in
    at_width(b, width, f"/runs/{stack.seeded.failed[0]}/")
    bars = check_chart(b, "chain-gantt")
    titles = [title_of(b, bar) for bar in bars]
    assert [t.split(":")[0] for t in titles] == ["FetchPages", "ParsePages"]
    assert titles[1].endswith(", failed") and " → " in titles[1]
    assert find(b, "svg#chain-gantt text.x-date").text.count("-") == 2  # the date under the first time
    fetch, parse = (box(b, bar) for bar in bars)
    assert fetch[2] <= parse[0] + 1  # parse starts after fetch ends, on one clock
    label = box(b, find(b, 'svg#chain-gantt g[data-family="StoreItems"] text.gantt-label'))
    assert label[0] >= box(b, find(b, "svg#chain-gantt"))[0]  # the row labels are inside the chart
    shot(b, "run", width)
