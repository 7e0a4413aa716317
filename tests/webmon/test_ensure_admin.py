"""ensure_admin makes the first superuser once, with a given or a generated password."""

from __future__ import annotations

import re
from pathlib import Path

from webmon_support import Manage

PASSWORD = re.compile(r"created user admin with password (\S+)")


def run(manage: Manage, db: Path, **env: str | None):
    return manage("ensure_admin", env={"DATABASE_URL": f"sqlite:///{db}", **env})


def check_password(manage: Manage, db: Path, password: str) -> bool:
    code = f"from django.contrib.auth import authenticate; print(authenticate(username='admin', password={password!r}) is not None)"
    result = manage("shell", "-c", code, env={"DATABASE_URL": f"sqlite:///{db}"})
    return result.stdout.strip().splitlines()[-1] == "True"


def test_first_start_generates_a_password_printed_once(manage: Manage, tmp_path: Path) -> None:
    db = tmp_path / "webmon.db"
    assert manage("migrate", "--noinput", env={"DATABASE_URL": f"sqlite:///{db}"}).returncode == 0
    first = run(manage, db, WEBMON_ADMIN_PASSWORD=None)
    assert first.returncode == 0, first.stderr
    password = PASSWORD.search(first.stdout).group(1)
    assert len(password) >= 20
    assert check_password(manage, db, password)
    second = run(manage, db, WEBMON_ADMIN_PASSWORD=None)
    assert second.returncode == 0
    assert second.stdout == ""  # silent on every later start


def test_the_password_can_come_from_the_environment(manage: Manage, tmp_path: Path) -> None:
    db = tmp_path / "webmon.db"
    manage("migrate", "--noinput", env={"DATABASE_URL": f"sqlite:///{db}"})
    result = run(manage, db, WEBMON_ADMIN_PASSWORD="from-the-env-42")
    assert "with the password in WEBMON_ADMIN_PASSWORD" in result.stdout
    assert "from-the-env-42" not in result.stdout + result.stderr
    assert check_password(manage, db, "from-the-env-42")
