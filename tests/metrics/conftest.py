"""Django for the metrics tests: the same set-up as tests/webmon (in-memory webmon DB, `history` fixture)."""

from __future__ import annotations

import sys
from pathlib import Path

WEBMON_TESTS = Path(__file__).resolve().parent.parent / "webmon"
if str(WEBMON_TESTS) not in sys.path:
    sys.path.insert(0, str(WEBMON_TESTS))

import json  # noqa: E402
import threading  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer  # noqa: E402
from urllib.parse import parse_qs, urlsplit  # noqa: E402

import pytest  # noqa: E402

# tests/webmon/conftest.py sets Django up when imported and holds the shared fixtures.
from tests.webmon.conftest import *  # noqa: E402,F403
from webmon.metrics.models import Cursor, PendingRun, ScheduleTotals  # noqa: E402
from webmon.scheduling.models import DaemonHeartbeat, Schedule, ScheduledRun, ScheduleEvent  # noqa: E402


def _empty_scheduling_tables() -> None:
    for model in (ScheduleEvent, ScheduledRun, Schedule, DaemonHeartbeat, Cursor, PendingRun, ScheduleTotals):
        model.objects.all().delete()


@pytest.fixture
def fresh(webmon_db: None) -> Iterator[None]:
    """Empty scheduling and metrics tables before and after: the webmon DB is one in-memory DB per test
    process, and the next module in this process (tests/scheduling) expects it empty."""
    _empty_scheduling_tables()
    yield
    _empty_scheduling_tables()


class FakeLuigid:
    """luigid's task_list API: `counts` of tasks per status, or per "STATUS/UPSTREAM_STATUS" for a call
    with an upstream filter; above 1 it answers a count, as luigid does."""

    def __init__(self) -> None:
        self.counts = {"RUNNING": 0, "PENDING": 0}
        self.calls: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                data = json.loads(parse_qs(urlsplit(self.path).query)["data"][0])
                fake.calls.append(data)
                key = f"{data['status']}/{data['upstream_status']}" if data["upstream_status"] else data["status"]
                n = fake.counts.get(key, 0)
                tasks = {"num_tasks": n} if n > 1 else {f"Task_{i}": {"name": "Task"} for i in range(n)}
                body = json.dumps({"response": tasks}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture(scope="module")
def fake_luigid() -> Iterator[FakeLuigid]:
    server = FakeLuigid()
    yield server
    server.server.shutdown()
    server.server.server_close()
