"""The router reads history models from `history` and never migrates or writes there."""

from __future__ import annotations

import sqlite3

from django.contrib.auth.models import User
from django.db import router
from webmon_support import LuigiHistory, Manage

from webmon.history.models import TaskEvent, TaskParameter, TaskRecord
from webmon.routers import HistoryRouter


def test_history_models_are_read_from_the_history_alias() -> None:
    for model in (TaskRecord, TaskEvent, TaskParameter):
        assert router.db_for_read(model) == "history"
    assert router.db_for_read(User) == "default"


def test_a_model_flagged_as_living_in_the_history_db_is_read_from_there() -> None:
    class Flagged:
        lives_in_history_db = True

        class _meta:  # noqa: N801 - stands in for Django's Options
            app_label = "monitor"

    assert HistoryRouter().db_for_read(Flagged) == "history"  # type: ignore[arg-type]


def test_the_router_never_names_history_for_writes() -> None:
    for model in (TaskRecord, TaskEvent, TaskParameter, User):
        assert HistoryRouter().db_for_write(model) is None


def test_the_router_refuses_to_migrate_history() -> None:
    r = HistoryRouter()
    assert r.allow_migrate("history", "auth") is False
    assert r.allow_migrate("history", "monitor", model_name="anything") is False
    assert r.allow_migrate("default", "history", model_name="taskrecord") is False
    assert r.allow_migrate("default", "monitor", model=TaskEvent) is False
    assert r.allow_migrate("default", "auth") is None  # Django's default: yes


def test_relations_do_not_cross_databases() -> None:
    r = HistoryRouter()
    assert r.allow_relation(TaskEvent(), User()) is False
    assert r.allow_relation(TaskEvent(), TaskRecord()) is None


def test_migrate_on_the_history_alias_changes_nothing_in_luigis_db(manage: Manage, luigi_history: LuigiHistory) -> None:
    result = manage("migrate", "--database", "history", env={"LUIGI_CONFIG_PATH": str(luigi_history.cfg)})
    # The read-only session refuses even Django's bookkeeping table.
    assert result.returncode != 0
    assert "readonly database" in result.stderr
    with sqlite3.connect(luigi_history.db) as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert tables == {"tasks", "task_events", "task_parameters"}
