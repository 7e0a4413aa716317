"""The run page's graph and the schedule grid on PostgreSQL and MariaDB histories (and SQLite):
the crawl_run_deps reads, the UNION ALL of newest runs, and a history without crawl_run_deps."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from history_seed import HistorySeed
from webmon_support import Manage, write_luigi_cfg

from pipelines.runs.models import run_deps

AT = datetime(2026, 3, 1, 6, tzinfo=UTC)

CHECK = """
import json
from datetime import UTC, datetime
from django.core.management import call_command
from django.test import Client, override_settings
from django.test.utils import setup_test_environment
from django.contrib.auth.models import User
from webmon.scheduling.models import Schedule, ScheduledRun

call_command("migrate", verbosity=0)
setup_test_environment()
client = Client()
client.force_login(User.objects.create_user("u", password="p-not-real-1"))
schedule = Schedule.objects.create(name="diamond", crawl="", cron="0 6 * * *")
for day in (1, 2):
    ScheduledRun.objects.create(schedule=schedule, logical_time=datetime(2026, 3, day, 6, tzinfo=UTC), state="success")
out = {}
with override_settings(LUIGID_URL="http://127.0.0.1:9"):
    r = client.get("/runs/%(root)d/")
    dag = r.context["dag"]
    out["run"] = [r.status_code, b'id="banner-history"' in r.content]
    out["nodes"] = sorted([n.family, n.status, n.run_id] for n in dag.nodes) if dag else None
    out["edges"] = len(dag.edges) if dag else None
    r = client.get(f"/schedules/{schedule.pk}/grid/")
    out["grid"] = [r.status_code, b'id="banner-history"' in r.content]
    out["cells"] = {row.family: [c.state for c in row.cells] for row in r.context["grid"].rows}
print(json.dumps(out))
"""


def seed_diamond(seed: HistorySeed) -> int:
    """Two ticks (ScheduledRun 1 and 2) of A <- B, C <- D; in tick 2 C failed and A never ran. Returns A of tick 1."""
    ids: dict[tuple[str, int], int] = {}
    for tick in (1, 2):
        start = AT + timedelta(days=tick - 1)
        for i, family in enumerate("DBCA"):
            if tick == 2 and family == "A":
                continue
            status = "failed" if (tick, family) == (2, "C") else "done"
            ids[(family, tick)] = seed.run(family=family, crawl=None, task_id=f"{family}_{tick}", params="{}",
                                           status=status, started_at=start + timedelta(seconds=i))
        requires = {"A": "BC", "B": "D", "C": "D", "D": ""}
        with seed.engine.begin() as conn:
            conn.execute(run_deps.insert(), [
                {"run_id": ids[(f, tick)], "scheduled_run": tick, "worker": f"w-{tick}",
                 "requires": json.dumps([{"task_id": f"{r}_{tick}", "family": r} for r in requires[f]])}
                for f in requires if (f, tick) in ids])
    return ids[("A", 1)]


def check(manage: Manage, tmp_path, url: str, *, drop: bool = False) -> dict:
    seed = HistorySeed(url)
    root = seed_diamond(seed)
    if drop:
        with seed.engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE crawl_run_deps"))
    seed.engine.dispose()
    cfg = write_luigi_cfg(tmp_path, url)
    result = manage("shell", "-c", CHECK % {"root": root}, env={"LUIGI_CONFIG_PATH": str(cfg)})
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def assert_drawn(out: dict) -> None:
    assert out["run"] == [200, False] and out["grid"] == [200, False]
    assert out["nodes"] == [["A", "done", 4], ["B", "done", 2], ["C", "done", 3], ["D", "done", 1]]
    assert out["edges"] == 4
    assert out["cells"] == {"D": ["done", "done"], "B": ["done", "done"], "C": ["done", "failed"],
                            "A": ["done", "not-run"]}


def assert_without_table(out: dict) -> None:
    assert out["run"] == [200, False] and out["grid"] == [200, False]
    assert out["nodes"] == [["A", "done", 4]]  # the task alone
    assert out["cells"] == {}


def empty_postgres(url: str) -> str:
    """The module's database is shared by its tests: each starts from no tables (so run ids start at 1)."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE; CREATE SCHEMA public"))
    engine.dispose()
    return url


@pytest.mark.postgres
def test_the_graph_and_grid_work_on_postgresql(manage: Manage, tmp_path, postgres_url: str) -> None:
    assert_drawn(check(manage, tmp_path, empty_postgres(postgres_url)))


@pytest.mark.postgres
def test_a_postgresql_history_without_the_deps_table_renders(manage: Manage, tmp_path, postgres_url: str) -> None:
    empty_postgres(postgres_url)
    assert_without_table(check(manage, tmp_path, postgres_url, drop=True))


def empty_mariadb(url: str) -> str:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("SET FOREIGN_KEY_CHECKS = 0"))
        for table in sa.inspect(conn).get_table_names():
            conn.execute(sa.text(f"DROP TABLE `{table}`"))
    engine.dispose()
    return url


@pytest.mark.mariadb
def test_the_graph_and_grid_work_on_mariadb(manage: Manage, tmp_path, mariadb_url: str) -> None:
    assert_drawn(check(manage, tmp_path, empty_mariadb(mariadb_url)))


@pytest.mark.mariadb
def test_a_mariadb_history_without_the_deps_table_renders(manage: Manage, tmp_path, mariadb_url: str) -> None:
    assert_without_table(check(manage, tmp_path, empty_mariadb(mariadb_url), drop=True))


def test_the_graph_and_grid_work_on_sqlite(manage: Manage, tmp_path) -> None:
    assert_drawn(check(manage, tmp_path, f"sqlite:///{tmp_path / 'history.db'}"))


def test_a_sqlite_history_without_the_deps_table_renders(manage: Manage, tmp_path) -> None:
    assert_without_table(check(manage, tmp_path, f"sqlite:///{tmp_path / 'history.db'}", drop=True))
