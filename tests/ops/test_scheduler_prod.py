"""`scheduler.sh up --prod` in a copy of the repository: webmon under gunicorn, DEBUG off."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.core.management.utils import get_random_secret_key

from tests.conftest import ROOT, free_port

PORTS = {"LUIGID_PORT": free_port(), "DEMO_SITE_PORT": free_port(), "WEBMON_PORT": free_port()}


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    dest = tmp_path_factory.mktemp("prod") / "crawlops"
    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(".venv", "var", ".git", "__pycache__", ".pytest_cache"))
    yield dest
    sh(dest, "down")


def sh(checkout: Path, *args: str, **env_extra: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items()
           if k not in ("LUIGI_CONFIG_PATH", "DEBUG", "SECRET_KEY", "DATABASE_URL") and not k.startswith("CRAWL_")}
    env.update(CRAWLOPS_VENV=str(Path(sys.executable).parent.parent), DEMO_SITE_PRODUCTS="20",
               **{k: str(v) for k, v in PORTS.items()})
    for key, value in env_extra.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = value
    return subprocess.run([str(checkout / "scheduler.sh"), *args], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=240)


def get(path: str, **headers: str) -> tuple[int, str]:
    request = urllib.request.Request(f"http://127.0.0.1:{PORTS['WEBMON_PORT']}{path}", headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read().decode(errors="replace")


def test_up_prod_without_secret_key_fails_with_a_sentence(checkout: Path) -> None:
    result = sh(checkout, "up", "--prod", SECRET_KEY=None)
    assert result.returncode == 1
    assert "up --prod needs SECRET_KEY in the environment" in result.stderr
    assert not (checkout / "var" / "run").exists()  # nothing started


@pytest.mark.parametrize("args", [("up", "--bogus"), ("up", "--prod", "extra")])
def test_bad_arguments_still_exit_2(checkout: Path, args: tuple[str, ...]) -> None:
    assert sh(checkout, *args).returncode == 2


def test_up_prod_serves_webmon_with_gunicorn_and_down_stops_it(checkout: Path) -> None:
    result = sh(checkout, "up", "--prod", SECRET_KEY=get_random_secret_key(), ALLOWED_HOSTS="127.0.0.1",
                BEHIND_TLS_PROXY="true")
    logs = "".join(f"\n--- {log.name}\n{log.read_text(errors='replace')[-2000:]}"
                   for log in sorted((checkout / "var" / "log").glob("*.log")))
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:] + logs
    assert "crawlops is up." in result.stdout
    pid = (checkout / "var" / "run" / "webmon.pid").read_text().strip()
    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    assert "gunicorn" in cmdline and "--workers 2" in cmdline

    assert get("/healthz")[0] == 200  # plain http: exempt from the https redirect (probes)
    status, page = get("/login/", **{"X-Forwarded-Proto": "https"})
    assert status == 200 and "password" in page.lower()
    css = re.search(r'href="(/static/[^"]+\.css)"', page)
    assert css, page[:2000]
    assert get(css.group(1), **{"X-Forwarded-Proto": "https"})[0] == 200  # WhiteNoise
    request = urllib.request.Request(f"http://127.0.0.1:{PORTS['WEBMON_PORT']}/login/")
    opener = urllib.request.build_opener(NoRedirect())
    with pytest.raises(urllib.error.HTTPError) as redirected:
        opener.open(request, timeout=10)
    assert redirected.value.code == 301 and redirected.value.headers["Location"].startswith("https://")

    with sqlite3.connect(checkout / "var" / "webmon.db") as db:
        names = {r[0] for r in db.execute("SELECT name FROM scheduling_schedule")}
        assert db.execute("SELECT COUNT(*) FROM webmon_cache").fetchone()[0] >= 0  # createcachetable ran
    assert names == {"demo", "backup-history", "backup-items", "backup-webmon", "prune-history"}
    assert "GET /healthz" in (checkout / "var" / "log" / "webmon.log").read_text()  # --access-logfile -

    down = sh(checkout, "down")
    assert down.returncode == 0 and "stopped webmon" in down.stdout
    assert not Path(f"/proc/{pid}").exists()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
        return None
