"""Two trigger daemons on one PostgreSQL database over 1,000 ticks never fire a tick twice."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
BASE = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.postgres
def test_two_daemons_over_1000_ticks_fire_each_tick_once(postgres_url: str, tmp_path: Path) -> None:
    database_url = postgres_url.replace("postgresql+psycopg2://", "postgresql://")
    env = {**os.environ, "DATABASE_URL": database_url, "SECRET_KEY": "tests-only", "DJANGO_SETTINGS_MODULE":
           "webmon.settings"}
    root = HERE.parents[1]
    migrate = subprocess.run([sys.executable, "manage.py", "migrate", "--noinput"], cwd=root, env=env,
                             capture_output=True, text=True, timeout=120)
    assert migrate.returncode == 0, migrate.stderr
    create = subprocess.run([sys.executable, "manage.py", "shell", "-c", (
        "from webmon.scheduling.models import Schedule; from datetime import datetime, UTC;"
        "Schedule.objects.create(name='fast', crawl='demo', cron='* * * * *', catchup='all', overlap='allow',"
        f" max_active_runs=1000, retries=0, start_at=datetime.fromisoformat('{BASE.isoformat()}'),"
        f" last_tick=datetime.fromisoformat('{BASE.isoformat()}'),"
        f" end_at=datetime.fromisoformat('{(BASE + timedelta(minutes=1000)).isoformat()}'))")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert create.returncode == 0, create.stderr
    out = tmp_path / "fired.txt"
    speed = 60 * 40  # 40 fake minutes per real second: 1,000 ticks in 25 s
    fast = {**env, "FAST_BASE": BASE.isoformat(), "FAST_T0": str(time.time() + 2), "FAST_SPEED": str(speed),
            "FAST_UNTIL": (BASE + timedelta(minutes=1000, seconds=30)).isoformat(), "FAST_OUT": str(out)}
    daemons = [subprocess.Popen([sys.executable, str(HERE / "fast_daemon.py")], cwd=root, env=fast,
                                stderr=subprocess.PIPE, text=True) for _ in range(2)]
    for daemon in daemons:
        _, err = daemon.communicate(timeout=240)
        assert daemon.returncode == 0, err[-3000:]
    fired = Counter(out.read_text().split())
    assert len(fired) == 1000
    assert fired.most_common(1)[0][1] == 1  # no run id fired twice
    check = subprocess.run([sys.executable, "manage.py", "shell", "-c", (
        "from webmon.scheduling.models import ScheduledRun as R;"
        "print(R.objects.count(), R.objects.filter(state='success').count(),"
        " len(set(R.objects.values_list('logical_time', flat=True))))")],
        cwd=root, env=env, capture_output=True, text=True, timeout=120)
    assert check.stdout.strip().splitlines()[-1].split() == ["1000", "1000", "1000"], check.stderr
