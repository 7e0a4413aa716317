"""Backups of the history, items and webmon databases.

One gzip file per weekday (0 = Sunday ... 6 = Saturday) under
`<[backup] dir>/<db>/`, plus a relative `<db>-latest...` symlink to the newest
good file, plus one line per attempt in `<[backup] dir>/backup.log`.

A backup is written to a temporary file and moved over its weekday file only
after the dump process exited 0 and the gzip was read back whole (and, for SQL
dumps, ends with the dump tool's "complete" trailer): a failed backup never
replaces a good one. Passwords go to pg_dump through PGPASSWORD and to
mysqldump through a 0600 defaults file, never on a command line or in a log.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

DATABASES = ("history", "items", "webmon")
ROOT = Path(__file__).resolve().parents[2]
CHUNK = 1 << 20


class BackupError(Exception):
    """A backup or restore step failed; the message names the step and the reason (never a password)."""

    def __init__(self, step: str, reason: str) -> None:
        super().__init__(f"{step}: {reason}")
        self.step, self.reason = step, reason


@dataclass(frozen=True)
class DbUrl:
    """The parts of a database URL the dump and restore tools need."""

    backend: str  # sqlite, postgresql, mysql
    database: str  # the SQLite file path, or the database name
    user: str = ""
    password: str = ""
    host: str = ""
    port: str = ""

    @property
    def suffix(self) -> str:
        return ".sqlite.gz" if self.backend == "sqlite" else ".sql.gz"


_BACKENDS = {"sqlite": "sqlite", "postgres": "postgresql", "postgresql": "postgresql",
             "mysql": "mysql", "mariadb": "mysql"}


def parse_url(url: str, base_dir: Path | None = None, *, label: str = "database URL") -> DbUrl:
    """A SQLAlchemy or Django-style URL -> DbUrl; relative SQLite paths resolve against `base_dir` (or the cwd)."""
    try:
        parts = make_url(url)
    except Exception:  # noqa: BLE001 - make_url's message would echo the URL (and its password)
        raise BackupError("config", f"{label} is not a database URL") from None
    backend = _BACKENDS.get(parts.drivername.split("+", 1)[0])
    if backend is None:
        raise BackupError("config", f"{label}: unsupported backend {parts.drivername.split('+', 1)[0]!r}")
    if backend == "sqlite":
        if not parts.database or parts.database == ":memory:":
            raise BackupError("config", f"{label}: an in-memory SQLite database cannot be backed up")
        path = Path(parts.database)
        return DbUrl("sqlite", str(path if path.is_absolute() else (base_dir or Path.cwd()) / path))
    if not parts.database:
        raise BackupError("config", f"{label} names no database")
    return DbUrl(backend, parts.database, parts.username or "", parts.password or "",
                 parts.host or "", str(parts.port or ""))


def weekday(date: dt.date) -> int:
    """0 = Sunday ... 6 = Saturday (cron's numbering)."""
    return date.isoweekday() % 7


def backup_path(folder: Path, db: str, date: dt.date, url: DbUrl) -> Path:
    return folder / db / f"{db}-{weekday(date)}{url.suffix}"


def latest_path(folder: Path, db: str, url: DbUrl) -> Path:
    return folder / db / f"{db}-latest{url.suffix}"


@dataclass
class Result:
    path: Path
    bytes: int
    seconds: float


def back_up(db: str, url: DbUrl, folder: Path, date: dt.date) -> Result:
    """Dump `url` into its weekday file of `date`, repoint `latest`, log the attempt; raise BackupError on failure."""
    final = backup_path(folder, db, date, url)
    final.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
    try:
        try:
            _dump(url, tmp)
            _verify(url, tmp)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            os.replace(tmp, final)
        finally:
            tmp.unlink(missing_ok=True)
        _point_latest(latest_path(folder, db, url), final)
    except BackupError as exc:
        _log(folder, db, final, 0, time.monotonic() - started, f"error {exc}")
        raise
    except OSError as exc:
        error = BackupError("write", f"{exc.strerror or exc} ({type(exc).__name__})")
        _log(folder, db, final, 0, time.monotonic() - started, f"error {error}")
        raise error from None
    result = Result(final, final.stat().st_size, time.monotonic() - started)
    _log(folder, db, final, result.bytes, result.seconds, "ok")
    return result


# -- dumps ------------------------------------------------------------------------------

def _dump(url: DbUrl, tmp: Path) -> None:
    if url.backend == "sqlite":
        _dump_sqlite(url, tmp)
    elif url.backend == "postgresql":
        cmd = ["pg_dump", "--clean", "--if-exists", "--no-owner", "--no-privileges", "--dbname", url.database]
        cmd += _pg_args(url)
        _dump_command(cmd, tmp, env=_pg_env(url), tool="pg_dump")
    else:
        with mysql_defaults(url) as defaults:
            cmd = [_mysql_tool("mariadb-dump", "mysqldump"), f"--defaults-extra-file={defaults}",
                   "--single-transaction", "--routines", "--triggers", "--hex-blob", url.database]
            _dump_command(cmd, tmp, env=dict(os.environ), tool="mysqldump")


def _dump_sqlite(url: DbUrl, tmp: Path) -> None:
    source_path = Path(url.database)
    if not source_path.is_file():
        raise BackupError("dump", f"SQLite file {source_path} does not exist")
    copy = tmp.with_name(tmp.name + ".db")
    try:
        try:
            source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True, timeout=30)
            target = sqlite3.connect(copy)
            with target:
                # Small steps: writers get the database between them (the online backup API restarts if they write).
                source.backup(target, pages=1024, sleep=0.005)
            check = target.execute("PRAGMA integrity_check").fetchone()[0]
            source.close()
            target.close()
        except sqlite3.Error as exc:
            raise BackupError("dump", f"SQLite backup failed: {exc}") from None
        if check != "ok":
            raise BackupError("verify", f"the SQLite copy fails integrity_check: {check[:200]}")
        with open(copy, "rb") as raw, gzip.open(tmp, "wb", compresslevel=6) as gz:
            shutil.copyfileobj(raw, gz, CHUNK)
    finally:
        copy.unlink(missing_ok=True)


def _dump_command(cmd: list[str], tmp: Path, *, env: dict[str, str], tool: str) -> None:
    with tempfile.TemporaryFile() as err, gzip.open(tmp, "wb", compresslevel=6) as gz:
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, stdin=subprocess.DEVNULL, env=env)
        except OSError as exc:
            raise BackupError("dump", f"cannot start {tool}: {exc.strerror}") from None
        assert proc.stdout is not None
        shutil.copyfileobj(proc.stdout, gz, CHUNK)
        code = proc.wait()
        if code != 0:
            err.seek(0)
            message = " ".join(err.read().decode("utf-8", "replace").split())[-500:]
            raise BackupError("dump", f"{tool} exited with {code}: {message or 'no message'}")


def _verify(url: DbUrl, tmp: Path) -> None:
    """Read the gzip back whole; a SQL dump must end with its tool's completion trailer."""
    tail = b""
    try:
        with gzip.open(tmp, "rb") as gz:
            while chunk := gz.read(CHUNK):
                tail = (tail + chunk)[-4096:]
    except (OSError, EOFError) as exc:
        raise BackupError("verify", f"the gzip file does not read back: {exc}") from None
    if url.backend == "postgresql" and b"PostgreSQL database dump complete" not in tail:
        raise BackupError("verify", "the pg_dump output is incomplete (no 'dump complete' trailer)")
    if url.backend == "mysql" and b"-- Dump completed" not in tail:
        raise BackupError("verify", "the mysqldump output is incomplete (no 'Dump completed' trailer)")


def _point_latest(link: Path, target: Path) -> None:
    tmp = link.with_name(f".{link.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    os.symlink(target.name, tmp)  # relative: the folder can move
    os.replace(tmp, link)


def _log(folder: Path, db: str, path: Path, size: int, seconds: float, outcome: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    line = f"{now} db={db} file={path} bytes={size} seconds={seconds:.2f} {outcome}".replace("\n", " ")
    with open(folder / "backup.log", "a", encoding="utf-8") as fh:
        fh.write(line + "\n")


# -- client tools, shared with restore.py ----------------------------------------------

def _pg_args(url: DbUrl) -> list[str]:
    args = []
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", url.port]
    if url.user:
        args += ["--username", url.user]
    return args + ["--no-password"]


def _pg_env(url: DbUrl) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PGPASSWORD"}
    if url.password:
        env["PGPASSWORD"] = url.password
    return env


def _mysql_tool(*names: str) -> str:
    for name in names:
        if shutil.which(name):
            return name
    raise BackupError("dump", f"none of {', '.join(names)} is installed")


@contextmanager
def mysql_defaults(url: DbUrl) -> Iterator[str]:
    """A 0600 option file with the connection (and password), removed afterwards."""
    fd, name = tempfile.mkstemp(prefix="crawlops-my-", suffix=".cnf")
    try:
        with os.fdopen(fd, "w") as fh:
            os.chmod(name, 0o600)
            fh.write("[client]\n")
            fh.write(f"user={_opt(url.user or 'root')}\n")
            fh.write(f"password={_opt(url.password)}\n")
            if url.host and url.host.startswith("/"):
                fh.write(f"socket={_opt(url.host)}\n")
            else:
                fh.write(f"host={_opt(url.host or '127.0.0.1')}\n")
                fh.write("protocol=TCP\n")
            if url.port:
                fh.write(f"port={url.port}\n")
        yield name
    finally:
        os.unlink(name)


def _opt(value: str) -> str:
    # Option files take quoted values with backslash escapes.
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
