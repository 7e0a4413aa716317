"""The dashboards count what the DB holds: every panel query of both dashboards goes to a real
Prometheus scraping a real webmon (and a real luigid) over a history DB seeded in two steps, and the
counts must be whole and equal to what the second step added (3153 pages fetched shows 3153, not
increase()'s extrapolated 3305.18), with the crawl variable at All and at one crawl.

Grafana itself is not installed here: its variables are filled in the way Grafana does it (a
multi-value variable at All takes the dashboard's allValue; $__range is the time range in seconds,
`<n>s`; the query runs at the range's end). The window is the time between the two steps, so
$__range, $__interval and $__rate_interval are all that window: one point of each time series then
covers the whole step.

Seeded: step 1, one tick of shop. Step 2 (inside the window): a second tick of shop (3153 pages, one
FetchPages failure, 1000 items parsed, 1000 stored), a first tick of blog (a crawl new in the window:
it counts whole), a failed backup (a task of no crawl), two scheduled runs of shop-hourly that
succeeded. Schedules: shop-hourly up, blog-daily down, backup-daily (no crawl) down. luigid holds a
task behind a failed upstream and one that can run.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import luigi.rpc
import pytest

from pipelines.runs import records
from pipelines.runs.models import DONE, FAILED
from tests.conftest import free_port, make_luigid, stop
from tests.deploy.test_prometheus_e2e import (
    DASHBOARDS,
    PROMETHEUS,
    TOKEN,
    Stack,
    manage,
    panel_targets,
    start_scraping,
    substitute,
)

pytestmark = pytest.mark.prometheus

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
STEP2_FETCH = {"fetched": 3153, "bytes": 51_234_567, "retries": 7, "failed_by_reason": {"timeout": 2, "http_404": 3},
               "responses_by_status": {"200": 3150, "404": 3, "503": 7}}
STEP2_STORE = {"new": 600, "changed": 300, "unchanged": 100}


def finished(engine, family: str, status: str, crawl: str | None, at: datetime, stats: dict | None = None) -> None:
    run_id, _ = records.create_run(engine, task_id=f"{family}_{crawl}_{at:%H%M%S%f}", family=family, crawl=crawl,
                                   params="{}", host="h", pid=1, worker="w", now=at)
    records.finish(engine, run_id, status=status, now=at + timedelta(seconds=5),
                   stats=json.dumps(stats) if stats is not None else None)


def tick(engine, crawl: str, at: datetime, fetch: dict, items: int, store: dict) -> None:
    finished(engine, "FetchPages", DONE, crawl, at, fetch)
    finished(engine, "ParsePages", DONE, crawl, at + timedelta(seconds=10), {"items": items, "errors": 4})
    finished(engine, "StoreItems", DONE, crawl, at + timedelta(seconds=20), store)
    finished(engine, "RunCrawl", DONE, crawl, at + timedelta(seconds=30), {"summary": "ok"})


@pytest.fixture(scope="module")
def counted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, int, int]]:
    """The stack after both steps, the window's end (epoch s) and its length (s)."""
    if not Path(PROMETHEUS).exists():
        pytest.skip(f"Prometheus not found ({PROMETHEUS}): apt-get install prometheus")
    home = tmp_path_factory.mktemp("dashboard-counts")
    luigid = make_luigid(home / "luigid")
    luigid.start()
    stack = Stack(prometheus=f"http://127.0.0.1:{free_port()}", webmon="", luigid=luigid, home=home)
    try:
        scheduler = luigi.rpc.RemoteScheduler(luigid.url)
        for task_id, status, deps in (("FetchPages_x", "FAILED", []), ("ParsePages_x", "PENDING", ["FetchPages_x"]),
                                      ("FetchPages_y", "PENDING", [])):
            scheduler.add_task(worker="w", task_id=task_id, status=status, deps=deps, family=task_id.split("_")[0],
                               params={})
        history = records.engine_for(luigid.history_url)
        tick(history, "shop", T0, {"fetched": 1000, "bytes": 1000, "retries": 1}, 500, {"new": 500})

        webmon_port = free_port()
        stack.webmon = f"http://127.0.0.1:{webmon_port}"
        env = luigid.env(DATABASE_URL=f"sqlite:///{home}/webmon.db", SECRET_KEY="tests-only", LUIGID_URL=luigid.url,
                         METRICS_TOKEN=TOKEN, DJANGO_SETTINGS_MODULE="webmon.settings")
        manage(env, "migrate", "--noinput", "-v", "0")
        manage(env, "shell", "-c", (
            "from datetime import datetime, UTC; from webmon.scheduling.models import Schedule as S;"
            "start = datetime(2026, 1, 1, tzinfo=UTC);"
            "S.objects.create(name='shop-hourly', crawl='shop', interval_seconds=3600, start_at=start, state=S.UP);"
            "S.objects.create(name='blog-daily', crawl='blog', interval_seconds=86400, start_at=start, state=S.DOWN);"
            "S.objects.create(name='backup-daily', crawl='', interval_seconds=86400, start_at=start, state=S.DOWN)"))
        start_scraping(stack, env, webmon_port)
        wait_for(stack, 'crawl_pages_fetched_total{crawl="shop"}', "1000")
        time.sleep(2)  # step 1 scraped a few times: the window starts after it
        start = math.floor(time.time())
        time.sleep(2)

        tick(history, "shop", T0 + timedelta(hours=1), STEP2_FETCH, 1000, STEP2_STORE)
        finished(history, "FetchPages", FAILED, "shop", T0 + timedelta(hours=1, minutes=5))
        tick(history, "blog", T0 + timedelta(hours=1), {"fetched": 42, "bytes": 4200}, 40, {"new": 40})
        finished(history, "BackupDatabase", FAILED, None, T0 + timedelta(hours=1))
        manage(env, "shell", "-c", (
            "from datetime import datetime, UTC; from webmon.scheduling.models import Schedule, ScheduledRun as R;"
            "s = Schedule.objects.get(name='shop-hourly');"
            "[R.objects.create(schedule=s, logical_time=datetime(2026, 11, 21, h, tzinfo=UTC), state=R.SUCCESS,"
            " attempts=1, started_at=datetime(2026, 11, 21, h, tzinfo=UTC),"
            " finished_at=datetime(2026, 11, 21, h, 5, tzinfo=UTC)) for h in (1, 2)]"))
        wait_for(stack, 'crawl_pages_fetched_total{crawl="shop"}', "4153")
        wait_for(stack, 'sum(crawl_schedule_runs_total{schedule="shop-hourly",state="success"})', "2")
        wait_for(stack, 'crawl_pages_fetched_total{crawl="blog"}', "42")
        time.sleep(2)
        end = math.floor(time.time())
        yield stack, end, end - start
    finally:
        for proc in reversed(stack.procs):
            stop(proc)
        luigid.stop()


def wait_for(stack: Stack, expr: str, value: str, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if [s["value"][1] for s in stack.query(expr)["data"]["result"]] == [value]:
            return
        time.sleep(0.3)
    raise AssertionError(f"{expr} is not {value} after {seconds}s: {stack.query(expr)}\n{stack.log('webmon')}")


def grafana_variables(board: dict, crawl: str | None, window: int) -> dict[str, str]:
    """What Grafana puts in: All is the variable's allValue from the dashboard JSON."""
    variables = {v["name"]: v for v in board["templating"]["list"]}
    values = {"datasource": "crawlops-prometheus", "__range": f"{window}s", "__interval": f"{window}s",
              "__rate_interval": f"{window}s", "family": variables["family"]["allValue"]}
    values["crawl"] = crawl if crawl is not None else variables["crawl"]["allValue"]
    return values


def answers(stack: Stack, end: int, window: int, crawl: str | None) -> dict[str, dict[str, float]]:
    """{"uid / panel / refId": {legend labels: value}} of every panel target at the window's end."""
    out = {}
    for board, panel, target in panel_targets():
        if crawl is None and board["uid"] == "crawl-detail":
            continue  # the detail dashboard has no All
        expr = substitute(target["expr"], grafana_variables(board, crawl, window))
        answer = stack.query(expr, at=end)
        assert answer["status"] == "success", (panel["title"], answer)
        out[f"{board['uid']} / {panel['title']} / {target['refId']}"] = {
            ",".join(f"{k}={v}" for k, v in sorted(s["metric"].items()) if k not in ("job", "instance")):
                float(s["value"][1]) for s in answer["data"]["result"]}
    return out


def counts(board_uid: str) -> list[str]:
    """The titles of the panels that show counts (unit none): their numbers must be whole."""
    board = json.loads(next(p for p in DASHBOARDS if board_uid in p.name).read_text())
    return [p["title"] for p in board["panels"] if p.get("fieldConfig", {}).get("defaults", {}).get("unit") == "none"]


@pytest.mark.parametrize("crawl", [None, "shop"], ids=["All", "one crawl"])
def test_every_count_of_both_dashboards_is_whole(counted: tuple[Stack, int, int], crawl: str | None) -> None:
    stack, end, window = counted
    seen = answers(stack, end, window, crawl)
    titles = {f"{uid} / {title}" for uid in ("crawl-overview", "crawl-detail") for title in counts(uid)}
    checked = {where: values for where, values in seen.items() if where.rsplit(" / ", 1)[0] in titles}
    assert len(checked) >= (12 if crawl is None else 24), sorted(checked)  # the detail dashboard has no All
    broken = {where: values for where, values in checked.items() if any(v != int(v) for v in values.values())}
    assert not broken, json.dumps(broken, indent=1)


def test_the_overview_at_all_counts_what_the_db_holds(counted: tuple[Stack, int, int]) -> None:
    stack, end, window = counted
    seen = answers(stack, end, window, None)
    assert seen["crawl-overview / Schedules down / A"] == {"": 2}  # blog-daily and backup-daily (no crawl)
    assert seen["crawl-overview / Failed task attempts / A"] == {"": 2}  # shop's FetchPages, the backup
    assert seen["crawl-overview / Task runs by status / A"] == {"status=done": 8, "status=failed": 2,
                                                                "status=killed": 0}
    assert seen["crawl-overview / Items per run (1 h window) / A"] == {"crawl=shop": 1000}
    assert seen["crawl-overview / Scheduled runs by final state / A"] == {
        "state=success": 2, "state=failed": 0, "state=skipped": 0, "state=timed_out": 0}
    assert seen["crawl-overview / luigid tasks / A"] == {"status=pending": 1, "status=running": 0}
    assert seen["crawl-overview / luigid tasks / B"] == {"reason=upstream_failed": 1, "reason=upstream_disabled": 0}
    rows = seen["crawl-overview / Schedules / A"]
    assert sorted(rows) == ["crawl=blog,schedule=blog-daily,state=down", "crawl=shop,schedule=shop-hourly,state=up",
                            "schedule=backup-daily,state=down"]


def test_the_overview_at_one_crawl_counts_that_crawl(counted: tuple[Stack, int, int]) -> None:
    stack, end, window = counted
    seen = answers(stack, end, window, "shop")
    assert seen["crawl-overview / Schedules down / A"] == {"": 0}
    assert seen["crawl-overview / Failed task attempts / A"] == {"": 1}
    assert seen["crawl-overview / Task runs by status / A"] == {"status=done": 4, "status=failed": 1,
                                                                "status=killed": 0}
    assert sorted(seen["crawl-overview / Schedules / A"]) == ["crawl=shop,schedule=shop-hourly,state=up"]


def test_the_detail_dashboard_counts_what_the_db_holds(counted: tuple[Stack, int, int]) -> None:
    stack, end, window = counted
    seen = answers(stack, end, window, "shop")
    assert seen["crawl-detail / Pages fetched / A"] == {"": 3153}
    assert seen["crawl-detail / Bytes downloaded / A"] == {"": 51_234_567}
    assert seen["crawl-detail / Retries / A"] == {"": 7}
    assert seen["crawl-detail / Items stored / A"] == {"": 1000}
    assert seen["crawl-detail / Fetch failures and retries / A"] == {"reason=http_4xx": 3, "reason=timeout": 2}
    assert seen["crawl-detail / Fetch failures and retries / B"] == {"": 7}
    assert seen["crawl-detail / Items per run (1 h window) / A"] == {"": 1000}
    assert seen["crawl-detail / Items per run (1 h window) / B"] == {"kind=changed": 300, "kind=new": 600,
                                                                     "kind=unchanged": 100}
    assert seen["crawl-detail / Items parsed, dropped and stored / A"] == {"": 1000}
    assert seen["crawl-detail / Items parsed, dropped and stored / B"] == {"": 4}
    assert seen["crawl-detail / Task runs of $crawl by status / A"] == {"status=done": 4, "status=failed": 1,
                                                                       "status=killed": 0}
