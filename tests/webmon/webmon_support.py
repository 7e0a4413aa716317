"""Helpers shared by webmon's tests (the fixtures are in conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

Manage = Callable[..., subprocess.CompletedProcess[str]]


def write_luigi_cfg(folder: Path, db_connection: str) -> Path:
    """A luigi.cfg in `folder` whose [task_history] names `db_connection`."""
    cfg = folder / "luigi.cfg"
    cfg.write_text(f"[task_history]\ndb_connection = {db_connection}\n")
    return cfg


def runnable_elsewhere(folder: Path) -> Path:
    """A new folder under `folder` with a manage.py that imports webmon from the repository.

    For running webmon from a working directory other than the repository root.
    """
    target = folder / "run"
    target.mkdir()
    source = (ROOT / "manage.py").read_text()
    with_root = source.replace("import sys\n", f"import sys\nsys.path.insert(0, {str(ROOT)!r})\n", 1)
    (target / "manage.py").write_text(with_root)
    return target


@contextmanager
def webmon_server(home: Path, luigi_cfg: Path, password: str, *, luigid_url: str = "http://127.0.0.1:9",
                  shell: str = "") -> Iterator[tuple[str, str]]:
    """webmon as `scheduler.sh up` starts it (migrate, ensure_admin, runserver), its DB in `home`.

    `shell` is Python run by `manage.py shell -c` before the server starts (rows for webmon's DB).
    Yields the server's URL and what `shell` printed; stops the server afterwards.
    """
    from tests.conftest import free_port, stop, wait_http

    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CRAWL_", "WEBMON_", "DJANGO_"))},
        "TZ": "UTC", "DEBUG": "true", "SECRET_KEY": "browser-tests-only-not-a-secret",
        "DATABASE_URL": f"sqlite:///{home / 'webmon.db'}", "LUIGI_CONFIG_PATH": str(luigi_cfg),
        "LUIGID_URL": luigid_url, "WEBMON_ADMIN_PASSWORD": password,
    }
    manage = [sys.executable, str(ROOT / "manage.py")]
    printed = ""
    for args in (["migrate", "--noinput", "-v", "0"], ["ensure_admin"], *([["shell", "-c", shell]] if shell else [])):
        done = subprocess.run([*manage, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr[-3000:]
        printed = done.stdout.strip() if args[0] == "shell" else printed
    port = free_port()
    with open(home / "webmon.log", "wb") as out:
        web = subprocess.Popen([*manage, "runserver", "--noreload", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                               stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(f"{url}/login/", timeout=60, proc=web)
        yield url, printed
    finally:
        stop(web)


@dataclass(frozen=True)
class LuigiHistory:
    """A history DB written by Luigi, and when (aware UTC) it was written."""

    url: str
    cfg: Path
    before: datetime
    after: datetime

    @property
    def db(self) -> Path:
        """The file of a SQLite history DB."""
        assert self.url.startswith("sqlite:////"), self.url
        return Path(self.url.removeprefix("sqlite:///"))


# Luigi's own writer, driven the way luigid drives it (scheduled, started,
# finished), in a subprocess with TZ=UTC as luigid runs here.
_WRITER = textwrap.dedent("""
    from luigi.db_task_history import DbTaskHistory
    from luigi.scheduler import Task

    history = DbTaskHistory()
    ok = Task("RunCrawl_demo_a1", "PENDING", set(), family="RunCrawl",
              params={"crawl": "demo", "at": "2024-05-01T10:00"})
    bad = Task("FetchPages_shop_b2", "PENDING", set(), family="FetchPages",
               params={"crawl": "shop", "at": "2024-05-01T10:00"})
    for task, success in ((ok, True), (bad, False)):
        history.task_scheduled(task)
        history.task_started(task, "worker-1")
        history.task_finished(task, successful=success)
""")


def record_luigi_history(folder: Path, url: str) -> LuigiHistory:
    """Have luigi's DbTaskHistory write two tasks (one DONE, one FAILED) to `url`.

    Writes folder/luigi.cfg naming `url`; each task gets three events.
    """
    cfg = write_luigi_cfg(folder, url)
    before = datetime.now(UTC)
    subprocess.run(
        [sys.executable, "-c", _WRITER],
        cwd=folder, env={**os.environ, "LUIGI_CONFIG_PATH": str(cfg), "TZ": "UTC"},
        check=True, capture_output=True, text=True, timeout=60,
    )
    return LuigiHistory(url=url, cfg=cfg, before=before, after=datetime.now(UTC))


# Luigi's writer again, for tasks given as JSON: [{"id", "family", "params", "host", "runs": [true, false, ...]}].
# Each run is scheduled, started on `host` and finished (true: DONE, false: FAILED), as luigid records it.
_TASKS_WRITER = textwrap.dedent("""
    import json, sys
    from luigi.db_task_history import DbTaskHistory
    from luigi.scheduler import Task

    history = DbTaskHistory()
    for spec in json.loads(sys.stdin.read()):
        task = Task(spec["id"], "PENDING", set(), family=spec["family"], params=spec["params"])
        for success in spec["runs"]:
            history.task_scheduled(task)
            history.task_started(task, spec["host"])
            history.task_finished(task, successful=success)
""")


def record_luigi_tasks(folder: Path, url: str, tasks: list[dict]) -> LuigiHistory:
    """Have luigi's DbTaskHistory write `tasks` (see _TASKS_WRITER) to `url`, in order."""
    import json

    cfg = write_luigi_cfg(folder, url)
    before = datetime.now(UTC)
    subprocess.run(
        [sys.executable, "-c", _TASKS_WRITER], input=json.dumps(tasks),
        cwd=folder, env={**os.environ, "LUIGI_CONFIG_PATH": str(cfg), "TZ": "UTC"},
        check=True, capture_output=True, text=True, timeout=120,
    )
    return LuigiHistory(url=url, cfg=cfg, before=before, after=datetime.now(UTC))
