"""Restore a database from a backup file made by backup.py.

SQLite: the file is gunzipped to a temporary copy and written into the
database through the online backup API (one transaction). PostgreSQL: the
plain dump (made with --clean --if-exists) is fed to psql with ON_ERROR_STOP
in one transaction. MySQL/MariaDB: the dump is fed to the mysql client.

`services_running()` says which crawlops services look alive (a live pid in
`<run dir>/*.pid`, or luigid's port answering), so the caller can refuse.
"""

from __future__ import annotations

import gzip
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
from pathlib import Path

from pipelines.maintenance.backup import (
    CHUNK,
    BackupError,
    DbUrl,
    _mysql_tool,
    _pg_args,
    _pg_env,
    mysql_defaults,
)


def restore(url: DbUrl, backup: Path) -> None:
    if not backup.is_file():
        raise BackupError("restore", f"{backup} is not a file")
    if url.backend == "sqlite":
        _restore_sqlite(url, backup)
    elif url.backend == "postgresql":
        cmd = ["psql", "--quiet", "--no-psqlrc", "--single-transaction", "--set", "ON_ERROR_STOP=1",
               "--dbname", url.database, *_pg_args(url)]
        _feed(cmd, backup, env=_pg_env(url), tool="psql")
    else:
        with mysql_defaults(url) as defaults:
            cmd = [_mysql_tool("mariadb", "mysql"), f"--defaults-extra-file={defaults}", url.database]
            _feed(cmd, backup, env=dict(os.environ), tool="mysql")


def _restore_sqlite(url: DbUrl, backup: Path) -> None:
    target_path = Path(url.database)
    target_path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".restore-", suffix=".db", dir=target_path.parent)
    try:
        with os.fdopen(fd, "wb") as raw, gzip.open(backup, "rb") as gz:
            shutil.copyfileobj(gz, raw, CHUNK)
        source = sqlite3.connect(f"file:{name}?mode=ro", uri=True)
        if source.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
            raise BackupError("restore", f"{backup} does not hold a sound SQLite database")
        target = sqlite3.connect(target_path, timeout=30)
        source.backup(target)
        source.close()
        target.close()
    except (OSError, EOFError, sqlite3.Error) as exc:
        raise BackupError("restore", f"{type(exc).__name__}: {exc}") from None
    finally:
        os.unlink(name)


def _feed(cmd: list[str], backup: Path, *, env: dict[str, str], tool: str) -> None:
    with tempfile.TemporaryFile() as out:
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=out, stderr=subprocess.STDOUT, env=env)
        except OSError as exc:
            raise BackupError("restore", f"cannot start {tool}: {exc.strerror}") from None
        assert proc.stdin is not None
        try:
            with gzip.open(backup, "rb") as gz:
                shutil.copyfileobj(gz, proc.stdin, CHUNK)
        except BrokenPipeError:
            pass  # the tool stopped reading: its exit code and message say why
        except (OSError, EOFError) as exc:
            proc.kill()
            raise BackupError("restore", f"cannot read {backup}: {exc}") from None
        finally:
            try:
                proc.stdin.close()
            except BrokenPipeError:
                pass
        code = proc.wait()
        if code != 0:
            out.seek(0)
            message = " ".join(out.read().decode("utf-8", "replace").split())[-500:]
            raise BackupError("restore", f"{tool} exited with {code}: {message or 'no message'}")


def services_running(run_dir: Path, luigid: tuple[str, int] | None) -> list[str]:
    """Sentences naming what is alive: services with a live pid file, and luigid answering."""
    found = []
    for pidfile in sorted(run_dir.glob("*.pid")) if run_dir.is_dir() else []:
        try:
            pid = int(pidfile.read_text().strip())
        except (OSError, ValueError):
            continue
        if _alive(pid):
            found.append(f"{pidfile.stem} (pid {pid}, {pidfile})")
    if luigid is not None:
        try:
            with socket.create_connection(luigid, timeout=1):
                found.append(f"luigid (answering on {luigid[0]}:{luigid[1]})")
        except OSError:
            pass
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
