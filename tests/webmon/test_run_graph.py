"""The run page's dependency graph and the schedule grid, from a real luigid and real `python -m luigi` runs.

The module runs the diamond of tests/dag_tasks.py (A requires B and C, both
require D) as three ticks of one schedule, each with CRAWLOPS_SCHEDULED_RUN
set to its ScheduledRun, the way the trigger daemon starts them:

* tick 1: everything runs and is done;
* tick 2: C fails, so A never runs (B still does);
* tick 3: D was run by hand before, so the tick finds it complete.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from django.test import Client, override_settings

from pipelines.runs.models import runs as runs_table
from tests.conftest import ROOT, Luigid
from tests.scheduling.schedule_world import make_run, make_schedule
from webmon.scheduling import grid as grid_view
from webmon.scheduling.models import Schedule, ScheduledRun

DAYS = ("2026-03-01", "2026-03-02", "2026-03-03")


def luigi_run(luigid: Luigid, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "tests.dag_tasks", *args],
        cwd=ROOT, env=luigid.env(**(env or {})), capture_output=True, text=True, timeout=120,
    )


def run_ids(luigid: Luigid, tag: str) -> dict[tuple[str, str], list[int]]:
    """(family, date) -> run ids, oldest first, of the runs with this tag."""
    db = sa.create_engine(luigid.history_url, future=True)
    with db.connect() as conn:
        rows = conn.execute(sa.select(runs_table.c.id, runs_table.c.family, runs_table.c.params)
                            .where(runs_table.c.params.like(f'%"tag": "{tag}"%')).order_by(runs_table.c.id)).all()
    db.dispose()
    found: dict[tuple[str, str], list[int]] = {}
    for run_id, family, params in rows:
        found.setdefault((family, json.loads(params)["date"]), []).append(run_id)
    return found


@dataclass
class World:
    luigid: Luigid
    schedule: Schedule
    ticks: list[ScheduledRun]
    ids: dict[tuple[str, str], list[int]]
    db: Path

    def run(self, family: str, day: str) -> int:
        return self.ids[(family, day)][-1]


@pytest.fixture(scope="module")
def world(luigid: Luigid, webmon_db: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    out = tmp_path_factory.mktemp("dag-out")
    Schedule.objects.filter(name="diamond-daily").delete()
    schedule = make_schedule("diamond-daily", crawl="", cron="0 6 * * *")
    ticks = [make_run(schedule, datetime(2026, 3, i + 1, 6, tzinfo=UTC)) for i in range(3)]
    common = ("--out-dir", str(out), "--tag", "grid")
    by_hand = luigi_run(luigid, "D", *common, "--date", DAYS[2])
    assert by_hand.returncode == 0, by_hand.stderr[-3000:]
    for tick, day in zip(ticks, DAYS, strict=True):
        if day == DAYS[1]:
            (out / f"fail-C-{day}").touch()
        done = luigi_run(luigid, "A", *common, "--date", day, env={"CRAWLOPS_SCHEDULED_RUN": str(tick.pk)})
        assert done.returncode == (30 if day == DAYS[1] else 0), done.stderr[-3000:]
    yield World(luigid, schedule, ticks, run_ids(luigid, "grid"), Path(luigid.history_url.removeprefix("sqlite:///")))
    schedule.delete()


@pytest.fixture
def client(user: Any) -> Client:
    """Logged in, keeping the module's schedule: conftest's client empties webmon's schedules, which
    would cascade to this module's ticks (the grid's columns)."""
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def on_world(world: World, history_at: Any) -> Iterator[World]:
    with history_at(str(world.db)), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield world


def nodes_of(response: Any) -> dict[str, Any]:
    return {node.family: node for node in response.context["dag"].nodes}


def test_the_run_page_of_the_top_task_draws_the_diamond(client: Client, on_world: World) -> None:
    w = on_world
    response = client.get(f"/runs/{w.run('A', DAYS[0])}/")
    assert response.status_code == 200
    dag = response.context["dag"]
    assert dag.source == "history"
    nodes = nodes_of(response)
    assert sorted(nodes) == ["A", "B", "C", "D"]
    assert {f: (n.status, n.run_id) for f, n in nodes.items()} == {
        f: ("done", w.run(f, DAYS[0])) for f in "ABCD"}
    by_id = {n.task_id: n.family for n in dag.nodes}
    assert sorted((by_id[e.source], by_id[e.target]) for e in dag.edges) == [
        ("B", "A"), ("C", "A"), ("D", "B"), ("D", "C")]
    # Requirements left of the tasks needing them.
    assert nodes["D"].x < nodes["B"].x == nodes["C"].x < nodes["A"].x
    assert nodes["A"].current and not nodes["B"].current
    body = response.content.decode()
    assert body.count('class="dag-edge"') == 4
    for family in "BCD":
        assert f'<a href="/runs/{w.run(family, DAYS[0])}/">' in body
    assert 'data-family="A" data-status="done"' in body
    assert 'id="dag-unwalked"' not in body and 'id="dag-alone"' not in body


def test_a_failed_requirement_is_red_and_the_tasks_that_required_a_task_are_shown(
    client: Client, on_world: World
) -> None:
    w = on_world
    assert ("A", DAYS[1]) not in w.ids  # C failed: A never ran in tick 2
    c = nodes_of(client.get(f"/runs/{w.run('C', DAYS[1])}/"))
    assert {f: n.status for f, n in c.items()} == {"C": "failed", "D": "done"}
    # D's page: the tick's rows say B and C required it, and A required them.
    response = client.get(f"/runs/{w.run('D', DAYS[0])}/")
    d = nodes_of(response)
    assert sorted(d) == ["A", "B", "C", "D"]
    assert d["A"].upstream and d["B"].upstream and d["C"].upstream and not d["D"].upstream
    assert d["D"].x < d["B"].x == d["C"].x < d["A"].x
    assert len(response.context["dag"].edges) == 4


def test_a_requirement_complete_before_the_tick_is_drawn_dashed_with_its_own_run(
    client: Client, on_world: World
) -> None:
    w = on_world
    response = client.get(f"/runs/{w.run('B', DAYS[2])}/")
    nodes = nodes_of(response)
    assert (nodes["D"].status, nodes["D"].run_id, nodes["D"].walked) == ("done", w.run("D", DAYS[2]), False)
    assert 'id="dag-unwalked"' in response.content.decode()


def test_the_run_page_queries_stay_fixed_whatever_the_graph(
    client: Client, on_world: World, num_queries: Any
) -> None:
    w = on_world
    for family in ("D", "A"):  # one box and no requirements; four boxes and four edges
        with num_queries(default=2, history=7):
            # default: 1. the session, 2. the user
            # history: 1. the run, 2. the attempts of its task, 3. a page of log lines, 4. its crawl_run_deps
            # row, 5. the rows of its tick, 6. the newest run of each drawn task (one UNION ALL),
            # 7. luigid events in the attempt's window
            assert client.get(f"/runs/{w.run(family, DAYS[0])}/").status_code == 200


def test_the_grid_shows_three_ticks_by_four_tasks_with_their_states(client: Client, on_world: World) -> None:
    w = on_world
    response = client.get(f"/schedules/{w.schedule.pk}/grid/")
    assert response.status_code == 200
    grid = response.context["grid"]
    assert [t.pk for t in grid.ticks] == [t.pk for t in w.ticks]  # oldest on the left
    assert [row.family for row in grid.rows] == ["D", "B", "C", "A"]  # requirements first
    states = {row.family: [cell.state for cell in row.cells] for row in grid.rows}
    assert states == {
        "D": ["done", "done", "elsewhere"],
        "B": ["done", "done", "done"],
        "C": ["done", "failed", "done"],
        "A": ["done", "not-run", "done"],
    }
    links = {row.family: [cell.run_id for cell in row.cells] for row in grid.rows}
    assert links["C"] == [w.run("C", d) for d in DAYS]
    assert links["D"][2] == w.run("D", DAYS[2])  # the run by hand that made it complete
    assert links["A"][1] is None
    body = response.content.decode()
    assert body.count('class="cell cell-') == 12
    failed = next(c for c in grid.rows[2].cells if c.state == "failed")
    assert failed.title.startswith("C fail=False, out_dir=") and failed.title.endswith("@ 2026-03-02 06:00: failed")
    assert f'<a href="/runs/{w.run("C", DAYS[1])}/" aria-label="{failed.title}">' in body
    assert 'id="grid-link"' in client.get(f"/schedules/{w.schedule.pk}/").content.decode()


def test_the_grid_pages_to_older_ticks_by_keyset(
    client: Client, on_world: World, monkeypatch: pytest.MonkeyPatch, num_queries: Any
) -> None:
    w = on_world
    monkeypatch.setattr(grid_view, "TICKS", 2)
    with num_queries(default=4, history=2):
        # default: 1. the session, 2. the user, 3. the schedule, 4. a page of its ticks (+1 for "older")
        # history: 1. the crawl_run_deps rows of those ticks with their runs, 2. the newest runs of
        # requirements that did not run in them
        first = client.get(f"/schedules/{w.schedule.pk}/grid/")
    assert [t.pk for t in first.context["grid"].ticks] == [w.ticks[1].pk, w.ticks[2].pk]
    older = first.context["older"]
    assert older and f'id="page-older" href="?from={older}"' in first.content.decode()
    second = client.get(f"/schedules/{w.schedule.pk}/grid/?from={older}")
    assert [t.pk for t in second.context["grid"].ticks] == [w.ticks[0].pk]
    assert second.context["older"] is None
    assert [c.state for row in second.context["grid"].rows for c in row.cells] == ["done"] * 4
    assert client.get(f"/schedules/{w.schedule.pk}/grid/?from=junk").status_code == 200


def test_the_grid_needs_a_login_and_a_known_schedule(anonymous: Client, client: Client, on_world: World) -> None:
    url = f"/schedules/{on_world.schedule.pk}/grid/"
    assert anonymous.get(url)["Location"] == f"/login/?next={url}"
    assert client.get("/schedules/999999/grid/").status_code == 404


# -- live: luigid's graph while a task runs ------------------------------------------------------


def test_while_a_task_runs_its_graph_comes_from_luigid(
    client: Client, luigid: Luigid, history_at: Any, tmp_path: Path
) -> None:
    from tests.runs.support import wait_for

    stop = tmp_path / "stop"
    args = ["SlowTop", "--out-dir", str(tmp_path), "--tag", "live", "--stop-file", str(stop)]
    worker = subprocess.Popen([sys.executable, "-m", "luigi", "--module", "tests.dag_tasks", *args], cwd=ROOT,
                              env=luigid.env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    db = Path(luigid.history_url.removeprefix("sqlite:///"))
    try:
        slow = wait_for(lambda: run_ids(luigid, "live").get(("Slow", "2026-01-01")), message="Slow running")[0]
        with history_at(str(db)), override_settings(LUIGID_URL=luigid.url):
            response = client.get(f"/runs/{slow}/")
        assert 'id="banner-luigid"' not in response.content.decode()
        dag = response.context["dag"]
        assert dag.source == "luigid"
        nodes = nodes_of(response)
        # luigid knows SlowTop, which has not run (so the history has no record of it).
        assert {f: (n.status, n.text) for f, n in nodes.items()} == {
            "Slow": ("running", "running"), "D": ("done", "done"), "SlowTop": ("pending", "pending")}
        assert nodes["SlowTop"].upstream and nodes["SlowTop"].run_id is None
        assert nodes["D"].run_id == run_ids(luigid, "live")[("D", "2026-01-01")][0]
        assert len(dag.edges) == 2
    finally:
        stop.touch()
        worker.wait(60)
    assert worker.returncode == 0
    with history_at(str(db)), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        after = client.get(f"/runs/{slow}/")
    assert after.context["dag"].source == "history"
    assert {f: n.status for f, n in nodes_of(after).items()} == {"Slow": "done", "D": "done"}


# -- hostile names, missing tables, big graphs ---------------------------------------------------------


def test_markup_in_task_names_and_parameters_is_escaped(client: Client, luigid: Luigid, history_at: Any,
                                                         tmp_path: Path) -> None:
    tag = "<script>alert('tag')</script>"
    Schedule.objects.filter(name="hostile").delete()
    schedule = make_schedule("hostile", crawl="", cron="0 6 * * *")
    tick = make_run(schedule, datetime(2026, 3, 1, 6, tzinfo=UTC))
    done = luigi_run(luigid, '<img src=x onerror="alert(1)">.Hostile', "--out-dir", str(tmp_path), "--tag", tag,
                     env={"CRAWLOPS_SCHEDULED_RUN": str(tick.pk)})
    assert done.returncode == 0, done.stderr[-3000:]
    db = sa.create_engine(luigid.history_url, future=True)
    with db.connect() as conn:
        hostile = conn.execute(sa.select(runs_table.c.id).where(runs_table.c.family.like("%Hostile"))).scalar_one()
    db.dispose()
    with history_at(luigid.history_url.removeprefix("sqlite:///")), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        response = client.get(f"/runs/{hostile}/")
    body = response.content.decode()
    assert response.status_code == 200
    assert len(response.context["dag"].nodes) == 2
    assert "<img src=x" not in body and "<script>alert" not in body
    assert 'data-family="&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.Hostile"' in body
    assert "&lt;script&gt;alert(&#x27;tag&#x27;)&lt;/script&gt;" in body  # the parameter, shown as text
    with history_at(luigid.history_url.removeprefix("sqlite:///")):
        grid = client.get(f"/schedules/{schedule.pk}/grid/")
    body = grid.content.decode()
    assert [row.family for row in grid.context["grid"].rows] == ["D", '<img src=x onerror="alert(1)">.Hostile']
    assert "<img src=x" not in body and "<script>alert" not in body
    assert '<span class="family">&lt;img src=x onerror=&quot;alert(1)&quot;&gt;.Hostile</span>' in body
    schedule.delete()


def test_a_history_without_the_deps_table_renders_the_chain_or_the_task_alone(
    client: Client, history: Any, num_queries: Any
) -> None:
    history.execute("DROP TABLE crawl_run_deps")
    at = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    ids = history.tick("demo", at)
    other = history.run(family="Touch", crawl=None, task_id="Touch_x_1", params="{}", started_at=at)
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        tick_page = client.get(f"/runs/{ids['ParsePages']}/")
        alone_page = client.get(f"/runs/{other}/")
    for response in (tick_page, alone_page):
        assert response.status_code == 200
        assert 'id="banner-history"' not in response.content.decode()
    assert tick_page.context["dag"] is None and 'id="chain-graph"' in tick_page.content.decode()
    assert [n.task_id for n in alone_page.context["dag"].nodes] == ["Touch_x_1"]


def seed_deps(history: Any, rows: list[tuple[int, list[tuple[str, str]]]], scheduled_run: int | None) -> None:
    from pipelines.runs.models import run_deps

    with history.engine.begin() as conn:
        conn.execute(run_deps.insert(), [
            {"run_id": run_id, "scheduled_run": scheduled_run, "worker": "w-1",
             "requires": json.dumps([{"task_id": t, "family": f} for t, f in requires])}
            for run_id, requires in rows])


def test_a_graph_over_the_limit_draws_two_hundred_boxes_and_counts_the_rest(
    client: Client, history: Any, num_queries: Any
) -> None:
    at = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    leaves = [(f"Leaf_{i:03d}", "Leaf") for i in range(250)]
    root = history.run(family="Fan", crawl=None, task_id="Fan_1", params="{}", started_at=at + timedelta(minutes=5))
    leaf_runs = [history.run(family="Leaf", crawl=None, task_id=t, params="{}", started_at=at) for t, _ in leaves[:20]]
    seed_deps(history, [(root, leaves), *((r, []) for r in leaf_runs)], scheduled_run=77)
    with override_settings(LUIGID_URL="http://127.0.0.1:9"), num_queries(default=2, history=7):
        response = client.get(f"/runs/{root}/")
    dag = response.context["dag"]
    assert (len(dag.nodes), len(dag.edges), dag.more) == (200, 199, 51)
    assert 'id="dag-more"' in response.content.decode()
    statuses = {n.task_id: n.status for n in dag.nodes}
    assert statuses["Leaf_000"] == "done" and statuses["Leaf_100"] == "not-run"


def test_a_hostile_luigid_graph_is_drawn_from_what_makes_sense(
    client: Client, history: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from webmon.monitor import luigid as luigid_api

    at = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    run_id = history.run(family="Top", crawl=None, task_id="Top_1", params="{}", status="running", started_at=at,
                         heartbeat_at=datetime.now(UTC))
    graphs = {
        "dep_graph": {
            "Top_1": {"name": "<b>Top</b>", "status": "RUNNING", "deps": ["Dep_1", 7, None, "Gone_1"]},
            "Dep_1": {"name": "Dep", "status": "WEIRD", "deps": "not a list"},
            "Junk_1": "not a node",
        },
        "inverse_dep_graph": ["not", "a", "graph"],
    }

    def answer(method: str, data: dict) -> Any:
        if method == "task_list":
            return {}
        return graphs[method]

    monkeypatch.setattr(luigid_api, "call", answer)
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        response = client.get(f"/runs/{run_id}/")
    assert response.status_code == 200
    body = response.content.decode()
    # The inverse graph is not a graph: luigid is reported, the history's graph (the task alone) is drawn.
    assert 'id="banner-luigid"' in body
    assert [n.task_id for n in response.context["dag"].nodes] == ["Top_1"]
    graphs["inverse_dep_graph"] = {}
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        response = client.get(f"/runs/{run_id}/")
    dag = response.context["dag"]
    assert dag.source == "luigid"
    assert {n.task_id: n.status for n in dag.nodes} == {"Top_1": "running", "Dep_1": "not-run", "Gone_1": "not-run"}
    assert "<b>Top</b>" not in response.content.decode()


def test_a_recorded_crawl_tick_draws_its_four_tasks_and_keeps_the_gantt(
    client: Client, luigid: Luigid, demo_site: Any, history_at: Any
) -> None:
    luigid.write_spec("dag-crawl", demo_site.url, max_pages=20)
    done = subprocess.run(
        [sys.executable, "-m", "luigi", "--module", "pipelines.tasks", "RunCrawl", "--crawl", "dag-crawl",
         "--at", "2026-03-01T0730"],
        cwd=ROOT, env=luigid.env(CRAWLOPS_SCHEDULED_RUN="9001"), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    db = sa.create_engine(luigid.history_url, future=True)
    with db.connect() as conn:
        ids = dict(conn.execute(sa.select(runs_table.c.family, runs_table.c.id)
                                .where(runs_table.c.crawl == "dag-crawl")).all())
    db.dispose()
    with history_at(luigid.history_url.removeprefix("sqlite:///")), override_settings(LUIGID_URL="http://127.0.0.1:9"):
        response = client.get(f"/runs/{ids['ParsePages']}/")
    nodes = nodes_of(response)
    assert {f: (n.status, n.run_id) for f, n in nodes.items()} == {f: ("done", ids[f]) for f in ids}
    assert sorted(nodes) == ["FetchPages", "ParsePages", "RunCrawl", "StoreItems"]
    # Fetch runs first; StoreItems requires ParsePages and RunCrawl requires StoreItems: both drawn to its right.
    assert nodes["FetchPages"].x < nodes["ParsePages"].x < nodes["StoreItems"].x < nodes["RunCrawl"].x
    assert nodes["StoreItems"].upstream and nodes["RunCrawl"].upstream and not nodes["FetchPages"].upstream
    assert len(response.context["dag"].edges) == 3
    body = response.content.decode()
    assert 'id="chain-gantt"' in body and 'id="chain-graph"' not in body
