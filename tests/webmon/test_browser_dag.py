"""The dependency graph and the schedule grid in a real headless Chromium (Selenium), against a real webmon.

The history holds two ticks of the diamond A <- B, C <- D (test_dag_on_backends.seed_diamond: in tick 2
C failed and A never ran), with crawl_run_deps rows naming ScheduledRuns 1 and 2 of a schedule that
`manage.py shell` creates in webmon's DB. The browser fixtures (and the no-CSP-violation check after
every test) are test_browser_ui's.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from history_seed import HistorySeed
from test_browser_ui import CHROMEDRIVER, CHROMIUM, PASSWORD, Browser, find, find_all, wait
from test_browser_ui import browser as browser  # noqa: F401 - fixtures used by name
from test_browser_ui import clean_console as clean_console  # noqa: F401
from test_browser_ui import signed_in as signed_in  # noqa: F401
from test_dag_on_backends import seed_diamond
from webmon_support import webmon_server

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not (CHROMIUM.exists() and CHROMEDRIVER.exists()),
                       reason="needs Debian's /usr/bin/chromium and /usr/bin/chromedriver"),
]

SCHEDULE = """
from datetime import UTC, datetime
from webmon.scheduling.models import Schedule, ScheduledRun
s = Schedule.objects.create(name="diamond", crawl="", cron="0 6 * * *")
for day in (1, 2):
    ScheduledRun.objects.create(schedule=s, logical_time=datetime(2026, 3, day, 6, tzinfo=UTC), state="success")
print(s.pk)
"""


@dataclass
class DagStack:
    url: str
    root: int
    schedule: int


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DagStack]:
    home = tmp_path_factory.mktemp("browser-dag")
    history_url = f"sqlite:///{home / 'history.db'}"
    seed = HistorySeed(history_url)
    root = seed_diamond(seed)
    seed.engine.dispose()
    config = home / "luigi.cfg"
    config.write_text(f"[task_history]\ndb_connection = {history_url}\n")
    with webmon_server(home, config, PASSWORD, shell=SCHEDULE) as (url, printed):
        yield DagStack(url, root, int(printed.splitlines()[-1]))


def test_the_run_page_draws_the_graph_and_its_boxes_link_to_their_runs(signed_in: Browser, stack: DagStack) -> None:
    b = signed_in
    b.get(f"/runs/{stack.root}/")
    nodes = {g.get_attribute("data-family"): g for g in find_all(b, "#dag-graph g.dag-node")}
    assert sorted(nodes) == ["A", "B", "C", "D"]
    for node in nodes.values():
        box = node.find_element("css selector", "rect")
        assert box.is_displayed() and box.size["width"] > 100 and box.size["height"] > 30
        assert node.get_attribute("data-status") == "done"
    assert len(find_all(b, "#dag-graph path.dag-edge")) == 4
    # Requirements on the left: D, then B and C, then A.
    x = {family: node.location["x"] for family, node in nodes.items()}
    assert x["D"] < x["B"] == x["C"] < x["A"]
    assert find(b, '#dag-graph g[data-family="A"] .stage-name').text == "A"
    b.shot("run-dag")
    nodes["B"].find_element("css selector", "a").click()
    wait(b, lambda d: find(b, "#run-title").text.startswith("B"))
    assert find(b, '#dag-graph g[data-family="B"]').get_attribute("class").split().count("stage-current") == 1


def test_the_grid_draws_a_coloured_cell_per_task_and_tick(signed_in: Browser, stack: DagStack) -> None:
    b = signed_in
    b.get(f"/schedules/{stack.schedule}/")
    find(b, "#grid-link").click()
    wait(b, lambda d: d.current_url.endswith(f"/schedules/{stack.schedule}/grid/"))
    assert len(find_all(b, "#dag-grid th.tick")) == 2
    rows = find_all(b, "#dag-grid tr.grid-row")
    assert [r.get_attribute("data-family") for r in rows] == ["D", "B", "C", "A"]
    colours = {}
    for row in rows:
        for cell in row.find_elements("css selector", "td.cell"):
            assert cell.is_displayed() and cell.size["width"] >= 16 and cell.size["height"] >= 16
            colours.setdefault(cell.get_attribute("data-state"), set()).add(cell.value_of_css_property("background-color"))
    assert sorted(colours) == ["done", "failed", "not-run"]
    assert all(len(c) == 1 for c in colours.values())  # one colour per state ...
    assert len({next(iter(c)) for c in colours.values()}) == 3  # ... and a different one for each
    b.shot("schedule-grid")
    failed = find(b, '#dag-grid td.cell[data-state="failed"] a')
    failed.click()
    wait(b, lambda d: find(b, "#run-status").get_attribute("data-status") == "failed")
