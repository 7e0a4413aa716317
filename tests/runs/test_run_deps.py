"""crawl_run_deps: each run's direct requirements and its scheduled run, written through the real luigi CLI."""

from __future__ import annotations

import json
import subprocess
import threading
from pathlib import Path
from typing import Any

import luigi
import pytest
import sqlalchemy as sa

from pipelines.runs import deps
from pipelines.runs.models import run_deps, runs
from pipelines.runs.records import create_tables, new_engine
from tests.conftest import PYTHON, ROOT, Luigid


def run_dag(luigid: Luigid, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([PYTHON, "-m", "luigi", "--module", "tests.dag_tasks", *args], cwd=ROOT,
                          env=luigid.env(**(env or {})), capture_output=True, text=True, timeout=120)


def deps_by_family(luigid: Luigid, tag: str) -> dict[str, dict[str, Any]]:
    db = sa.create_engine(luigid.history_url, future=True)
    query = (sa.select(runs.c.family, runs.c.task_id, run_deps.c.scheduled_run, run_deps.c.worker, run_deps.c.requires)
             .select_from(runs.join(run_deps, run_deps.c.run_id == runs.c.id))
             .where(runs.c.params.like(f'%"tag": "{tag}"%')))
    with db.connect() as conn:
        rows = {r.family: dict(r._mapping) for r in conn.execute(query)}
    db.dispose()
    return rows


@pytest.fixture(scope="module")
def diamond(luigid: Luigid, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    out = tmp_path_factory.mktemp("diamond")
    done = run_dag(luigid, "A", "--out-dir", str(out), "--tag", "diamond", env={"CRAWLOPS_SCHEDULED_RUN": "4711"})
    assert done.returncode == 0, done.stderr[-3000:]
    return deps_by_family(luigid, "diamond")


def test_every_task_of_the_diamond_records_its_direct_requirements(diamond: dict[str, dict[str, Any]]) -> None:
    assert sorted(diamond) == ["A", "B", "C", "D"]
    ids = {family: row["task_id"] for family, row in diamond.items()}
    assert json.loads(diamond["A"]["requires"]) == [
        {"family": "B", "task_id": ids["B"]}, {"family": "C", "task_id": ids["C"]}]
    assert json.loads(diamond["B"]["requires"]) == [{"family": "D", "task_id": ids["D"]}]
    assert json.loads(diamond["C"]["requires"]) == [{"family": "D", "task_id": ids["D"]}]
    assert json.loads(diamond["D"]["requires"]) == []


def test_the_scheduled_run_and_the_worker_are_recorded(diamond: dict[str, dict[str, Any]]) -> None:
    assert {row["scheduled_run"] for row in diamond.values()} == {4711}
    [worker] = {row["worker"] for row in diamond.values()}  # one luigi invocation
    assert worker and worker.startswith("Worker(")


def test_in_luigis_multiprocessing_mode_every_task_records_its_requirements(luigid: Luigid, tmp_path: Path) -> None:
    done = run_dag(luigid, "A", "--out-dir", str(tmp_path), "--tag", "forked", "--workers", "2",
                   env={"CRAWLOPS_SCHEDULED_RUN": "12"})
    assert done.returncode == 0, done.stderr[-3000:]
    rows = deps_by_family(luigid, "forked")
    assert sorted(rows) == ["A", "B", "C", "D"]
    assert [r["family"] for r in json.loads(rows["A"]["requires"])] == ["B", "C"]
    assert {r["scheduled_run"] for r in rows.values()} == {12}


def test_a_run_started_by_hand_has_no_scheduled_run(luigid: Luigid, tmp_path: Path) -> None:
    done = run_dag(luigid, "D", "--out-dir", str(tmp_path), "--tag", "by-hand")
    assert done.returncode == 0, done.stderr[-3000:]
    assert deps_by_family(luigid, "by-hand")["D"]["scheduled_run"] is None


def test_a_bad_scheduled_run_value_is_reported_and_the_deps_still_recorded(luigid: Luigid, tmp_path: Path) -> None:
    done = run_dag(luigid, "D", "--out-dir", str(tmp_path), "--tag", "bad-env", env={"CRAWLOPS_SCHEDULED_RUN": "12; drop"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert "CRAWLOPS_SCHEDULED_RUN must be a ScheduledRun id (a positive whole number), got '12; drop'" in done.stderr
    row = deps_by_family(luigid, "bad-env")["D"]
    assert (row["scheduled_run"], json.loads(row["requires"])) == (None, [])


def test_requires_raising_in_the_context_costs_only_the_record(luigid: Luigid, tmp_path: Path) -> None:
    done = run_dag(luigid, "Picky", "--out-dir", str(tmp_path), "--tag", "picky")
    assert done.returncode == 0, done.stderr[-3000:]
    assert "no dependency record for run" in done.stderr
    assert "requires() raised LookupError: the catalogue is down" in done.stderr
    recorded = deps_by_family(luigid, "picky")
    assert sorted(recorded) == ["D"]  # Picky ran (its output exists) without a dependency row
    db = sa.create_engine(luigid.history_url, future=True)
    with db.connect() as conn:
        status = conn.execute(sa.select(runs.c.status).where(runs.c.family == "Picky")).scalar_one()
    db.dispose()
    assert status == "done"


class Hangs(luigi.Task):
    release = threading.Event()

    def requires(self) -> list[luigi.Task]:
        self.release.wait(30)
        return []


class Raises(luigi.Task):
    def requires(self) -> list[luigi.Task]:
        raise KeyError("no such table")


class NotATask(luigi.Task):
    def requires(self) -> list[object]:
        return ["a string"]


def test_a_hanging_requires_gives_up_after_the_timeout() -> None:
    with pytest.raises(deps.DepsUnavailable, match=r"requires\(\) did not answer within 0.2 s"):
        deps.requirements(Hangs(), timeout=0.2)
    assert not Hangs.release.is_set()  # it gave up while requires() was still waiting
    Hangs.release.set()


def test_a_raising_requires_or_a_non_task_is_one_sentence() -> None:
    with pytest.raises(deps.DepsUnavailable, match=r"requires\(\) raised KeyError: 'no such table'"):
        deps.requirements(Raises())
    with pytest.raises(deps.DepsUnavailable, match="requires\\(\\) returned str, not a luigi task"):
        deps.requirements(NotATask())


def test_create_tables_adds_the_deps_table_to_an_existing_history(tmp_path: Path) -> None:
    engine = new_engine(f"sqlite:///{tmp_path / 'old.db'}")
    runs.create(engine)  # a history from before crawl_run_deps
    create_tables(engine)
    inspector = sa.inspect(engine)
    assert inspector.has_table("crawl_run_deps")
    assert {ix["name"] for ix in inspector.get_indexes("crawl_run_deps")} == {
        "ix_crawl_run_deps_scheduled", "ix_crawl_run_deps_worker"}
    engine.dispose()


def test_pruning_old_runs_deletes_their_dependency_rows_too(tmp_path: Path) -> None:
    import datetime as dt

    from pipelines.maintenance.prune import engine as prune_engine
    from pipelines.maintenance.prune import prune_history
    from pipelines.runs.records import create_run, finish, record_deps

    url = f"sqlite:///{tmp_path / 'history.db'}"
    writer = new_engine(url)
    create_tables(writer)
    now = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
    ids = []
    for started in (now - dt.timedelta(days=40), now):
        run_id, _ = create_run(writer, task_id=f"T_{started:%d}", family="T", crawl=None, params="{}", host="h",
                               pid=1, worker="w", now=started)
        finish(writer, run_id, status="done", now=started + dt.timedelta(seconds=1))
        record_deps(writer, run_id, requires=[], scheduled_run=None, worker="w")
        ids.append(run_id)
    done = prune_history(prune_engine(url), now - dt.timedelta(days=30), pause=0)
    assert (done.runs, done.run_deps) == (1, 1)
    with writer.connect() as conn:
        assert conn.execute(sa.select(run_deps.c.run_id)).scalars().all() == [ids[1]]
    with writer.begin() as conn:  # a history from before the table: pruning still works
        conn.execute(sa.text("DROP TABLE crawl_run_deps"))
    assert prune_history(prune_engine(url), now + dt.timedelta(days=1), pause=0).runs == 1
    writer.dispose()
