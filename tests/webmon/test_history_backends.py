"""Luigi history on PostgreSQL and MariaDB, read by webmon end to end.

Each test has luigi's DbTaskHistory write a real server DB, then runs
`manage.py shell` with LUIGI_CONFIG_PATH naming it: the URL conversion, the
PyMySQL switch, the read-only session and the timestamp field all take part.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from webmon_support import Manage, record_luigi_history

READ = """
import json
from django.db import DatabaseError, connections
from webmon.history.models import TaskEvent
events = [[e.event_name, e.ts.isoformat(), e.ts.tzinfo is not None and e.ts.utcoffset().total_seconds() == 0]
          for e in TaskEvent.objects.order_by("id")]
try:
    with connections["history"].cursor() as cursor:
        cursor.execute("DELETE FROM task_events")
    refused = None
except DatabaseError as exc:
    refused = type(exc).__name__
print(json.dumps({"events": events, "refused": refused, "count": TaskEvent.objects.count()}))
"""


def read_through_webmon(manage: Manage, tmp_path: Path, url: str) -> None:
    history = record_luigi_history(tmp_path, url)
    result = manage("shell", "-c", READ, env={"LUIGI_CONFIG_PATH": str(history.cfg)})
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert [name for name, _, _ in seen["events"]] == ["PENDING", "RUNNING", "DONE", "PENDING", "RUNNING", "FAILED"]
    for _, ts, is_utc in seen["events"]:
        assert is_utc
        # MariaDB's TIMESTAMP keeps whole seconds (Luigi declares no precision).
        assert history.before.replace(microsecond=0) <= datetime.fromisoformat(ts).astimezone(UTC) <= history.after
    assert seen["refused"] is not None  # the session is read-only
    assert seen["count"] == 6


@pytest.mark.postgres
def test_a_postgresql_history_db_reads_as_aware_utc_and_refuses_writes(
    manage: Manage, tmp_path: Path, postgres_url: str
) -> None:
    read_through_webmon(manage, tmp_path, postgres_url)


@pytest.mark.mariadb
def test_a_mariadb_history_db_reads_as_aware_utc_and_refuses_writes(
    manage: Manage, tmp_path: Path, mariadb_url: str
) -> None:
    read_through_webmon(manage, tmp_path, mariadb_url)
