"""Django set up for webmon's tests (no pytest-django), and shared fixtures.

In-process tests (and manage.py subprocesses, unless a test says otherwise)
run with an in-memory default DB and a fixed SECRET_KEY, so they never write
var/ in the checkout. Tests of what happens at start-up (env, luigi.cfg) run
`manage.py` in a subprocess: settings load only once per process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from webmon_support import ROOT, LuigiHistory, Manage, record_luigi_history

if str(ROOT) not in sys.path:  # plain `pytest` (not `python -m pytest`) from elsewhere
    sys.path.insert(0, str(ROOT))

# What webmon's settings read in these tests. Set only while django.setup()
# loads the settings, then restored: other suites in this session (and their
# subprocesses) must not inherit them.
TEST_ENV = {"DATABASE_URL": "sqlite://", "SECRET_KEY": "tests-only-not-a-secret"}
_setup_env = {"DJANGO_SETTINGS_MODULE": "webmon.settings", **TEST_ENV}
if "LUIGI_CONFIG_PATH" not in os.environ and not Path("luigi.cfg").is_file():
    # Luigi looks for luigi.cfg in the working directory; this lets `pytest`
    # run from anywhere (read when luigi.configuration is first imported).
    _setup_env["LUIGI_CONFIG_PATH"] = str(ROOT / "luigi.cfg")
_saved_env = {key: os.environ.get(key) for key in _setup_env}
os.environ.update(_setup_env)
try:
    import django

    django.setup()
finally:
    for key, value in _saved_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value

from django.db import connections  # noqa: E402


@pytest.fixture
def manage() -> Manage:
    """Run `python manage.py ARGS` with env overrides (None removes a variable)."""

    def run(*args: str, env: dict[str, str | None] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
        full = {**os.environ, **TEST_ENV}
        for key, value in (env or {}).items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        return subprocess.run(
            [sys.executable, str(cwd / "manage.py"), *args],
            cwd=cwd,
            env=full,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run


@pytest.fixture
def luigi_history(tmp_path: Path) -> LuigiHistory:
    """A SQLite history DB written by luigi's DbTaskHistory: two tasks, three events each."""
    return record_luigi_history(tmp_path, f"sqlite:///{tmp_path / 'history.db'}")


@pytest.fixture
def history_db(luigi_history: LuigiHistory) -> Iterator[LuigiHistory]:
    """Point the `history` alias of this process at the luigi_history DB."""
    conn = connections["history"]
    conn.close()
    original = conn.settings_dict["NAME"]
    conn.settings_dict["NAME"] = str(luigi_history.db)
    try:
        yield luigi_history
    finally:
        conn.close()
        conn.settings_dict["NAME"] = original


# -- the monitor's pages ----------------------------------------------------------

from collections.abc import Callable  # noqa: E402
from contextlib import AbstractContextManager, contextmanager  # noqa: E402

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402
from history_seed import HistorySeed  # noqa: E402


@pytest.fixture(scope="session")
def webmon_db() -> None:
    """webmon's own DB (in memory in these tests), migrated once; the test client allowed."""
    from django.test.utils import _TestState

    # Asked Django, not a module global: this conftest is also imported by tests/scheduling.
    if not hasattr(_TestState, "saved_data"):
        setup_test_environment()  # ALLOWED_HOSTS gets "testserver"; templates are recorded
    call_command("migrate", verbosity=0, interactive=False)


@pytest.fixture
def user(webmon_db: None) -> User:
    found = User.objects.filter(username="operator").first()
    return found or User.objects.create_user("operator", password="not-a-real-password-1")


@pytest.fixture
def client(user: User) -> Client:
    """A test client logged in as a plain (non-staff) user; webmon's DB holds no schedules and no daemon
    heartbeats until the test makes some.

    The DB is one per process and the overview shows every schedule, the workers page every daemon's
    heartbeat: ones another module left (the trigger daemon's tests beat as this host) would show too.
    """
    from webmon.scheduling.models import DaemonHeartbeat, Schedule

    Schedule.objects.all().delete()
    DaemonHeartbeat.objects.all().delete()
    c = Client()
    c.force_login(user)
    return c


@pytest.fixture
def anonymous(webmon_db: None) -> Client:
    return Client()


@contextmanager
def _alias_at(alias: str, name: str) -> Iterator[None]:
    """Point the read-only alias `alias` (history, items) at another SQLite file for a while."""
    conn = connections[alias]
    conn.close()
    original = conn.settings_dict["NAME"]
    conn.settings_dict["NAME"] = name
    try:
        yield
    finally:
        conn.close()
        conn.settings_dict["NAME"] = original


@pytest.fixture
def history(tmp_path: Path) -> Iterator[HistorySeed]:
    """An empty history DB (run tables and Luigi's tables), read by the `history` alias."""
    db = tmp_path / "history.db"
    seed = HistorySeed(f"sqlite:///{db}")
    with _alias_at("history", str(db)):
        yield seed
    seed.engine.dispose()


@pytest.fixture
def history_at() -> Callable[[str], AbstractContextManager[None]]:
    """Point the `history` alias at another SQLite file for a while (missing files, broken DBs)."""
    return lambda name: _alias_at("history", name)


class _CaptureWithoutConnecting(CaptureQueriesContext):
    """CaptureQueriesContext that does not open the connection itself.

    Counting zero queries on the history alias must not need a history DB
    (a fresh clone has no var/history.db).
    """

    def __enter__(self) -> _CaptureWithoutConnecting:
        self.force_debug_cursor = self.connection.force_debug_cursor
        self.connection.force_debug_cursor = True
        self.initial_queries = len(self.connection.queries_log)
        self.final_queries = None
        return self


@contextmanager
def assert_num_queries(*, default: int, history: int) -> Iterator[None]:
    """assertNumQueries for both aliases: exact counts, and the SQL listed when they differ."""
    with (
        CaptureQueriesContext(connections["default"]) as on_default,
        _CaptureWithoutConnecting(connections["history"]) as on_history,
    ):
        yield
    _assert_counts(("default", default, on_default), ("history", history, on_history))


def _assert_counts(*counts: tuple[str, int, CaptureQueriesContext]) -> None:
    for alias, expected, seen in counts:
        queries = [q["sql"] for q in seen.captured_queries]
        listing = "\n".join(f"{i}. {sql[:300]}" for i, sql in enumerate(queries, 1))
        assert len(queries) == expected, f"{len(queries)} queries on {alias}, expected {expected}:\n{listing}"


@pytest.fixture
def num_queries() -> Callable[..., AbstractContextManager[None]]:
    return assert_num_queries


# -- the items DB ---------------------------------------------------------------------

from items_seed import ItemsSeed  # noqa: E402


@pytest.fixture
def items_db(tmp_path: Path) -> Iterator[ItemsSeed]:
    """An empty items DB (tables and indexes, as StoreItems creates them), read by the `items` alias."""
    db = tmp_path / "items.db"
    seed = ItemsSeed(f"sqlite:///{db}")
    with _alias_at("items", str(db)):
        yield seed
    seed.engine.dispose()


@pytest.fixture
def items_at() -> Callable[[str], AbstractContextManager[None]]:
    """Point the `items` alias at another SQLite file for a while (missing files, broken DBs)."""
    return lambda name: _alias_at("items", name)


@contextmanager
def assert_item_queries(*, default: int, items: int) -> Iterator[None]:
    """Exact query counts on webmon's DB and the items DB (and none on the history DB)."""
    with (
        CaptureQueriesContext(connections["default"]) as on_default,
        _CaptureWithoutConnecting(connections["items"]) as on_items,
        _CaptureWithoutConnecting(connections["history"]) as on_history,
    ):
        yield
    _assert_counts(("default", default, on_default), ("items", items, on_items), ("history", 0, on_history))


@pytest.fixture
def item_queries() -> Callable[..., AbstractContextManager[None]]:
    return assert_item_queries
