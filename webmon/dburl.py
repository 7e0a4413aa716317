"""Database URLs -> Django DATABASES entries (no dj-database-url dependency).

One parser for both of webmon's URLs: DATABASE_URL (its own DB) and Luigi's
`[task_history] db_connection` (SQLAlchemy syntax, so a `+driver` suffix such
as `postgresql+psycopg2` is accepted and dropped). Accepted forms:

    sqlite://                         in memory (as in SQLAlchemy)
    sqlite:///:memory:                in memory
    sqlite:///var/webmon.db           relative: resolved against base_dir
    sqlite:////srv/webmon/webmon.db   absolute
    postgres[ql]://user:pass@host:5432/name?sslmode=require
    mysql://user:pass@host:3306/name?charset=utf8mb4   (mariadb:// too)

User, password, host and name are percent-decoded, so a password with
special characters is written percent-encoded (`p%40ss` for `p@ss`); a host
may be an encoded socket folder (`%2Fvar%2Frun%2Fpostgresql`). Query options
go to OPTIONS, all-digit values as ints (PyMySQL wants int timeouts).
Error messages name the part that is wrong, never the whole URL: it may hold
a password.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from django.core.exceptions import ImproperlyConfigured

_ENGINES = {
    "sqlite": "django.db.backends.sqlite3",
    "postgres": "django.db.backends.postgresql",
    "postgresql": "django.db.backends.postgresql",
    "mysql": "django.db.backends.mysql",
    "mariadb": "django.db.backends.mysql",  # Django serves MariaDB with its mysql backend
}
SQLITE = _ENGINES["sqlite"]
MYSQL = _ENGINES["mysql"]
POSTGRESQL = _ENGINES["postgresql"]


def db_from_url(url: str, base_dir: Path, *, label: str = "DATABASE_URL") -> dict[str, Any]:
    """Parse `url` into a DATABASES entry; `label` names its source in errors."""
    scheme, sep, _ = url.partition("://")
    backend = scheme.split("+", 1)[0].lower()
    if not sep or backend not in _ENGINES:
        raise ImproperlyConfigured(
            f"{label}: expected a URL starting with one of {', '.join(s + '://' for s in _ENGINES)},"
            f" got one starting with {scheme[:20]!r}"
        )
    parts = urlsplit(url)
    options = _options(parts.query, label)
    if backend == "sqlite":
        return {"ENGINE": SQLITE, "NAME": _sqlite_name(parts.netloc, parts.path, base_dir, label), "OPTIONS": options}
    user, password, host, port = _netloc(parts.netloc, label)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ImproperlyConfigured(f"{label}: the URL names no database (expected .../NAME after the host)")
    return {
        "ENGINE": _ENGINES[backend],
        "NAME": name,
        "USER": user,
        "PASSWORD": password,
        "HOST": host,
        "PORT": port,
        "OPTIONS": options,
    }


def _sqlite_name(netloc: str, path: str, base_dir: Path, label: str) -> str:
    if netloc:
        raise ImproperlyConfigured(
            f"{label}: a sqlite URL has no host; use sqlite:///relative/path.db or sqlite:////absolute/path.db"
        )
    # The first slash separates the (empty) host from the path, as in SQLAlchemy.
    name = unquote(path[1:])
    if name in ("", ":memory:"):
        return ":memory:"
    # SQLAlchemy resolves a relative path against the working directory; we
    # use the repository root so webmon finds the file from anywhere.
    return str(Path(name) if Path(name).is_absolute() else base_dir / name)


def _netloc(netloc: str, label: str) -> tuple[str, str, str, str]:
    # rpartition: an unencoded "@" in a password still leaves the host intact.
    userinfo, _, hostport = netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    if hostport.startswith("["):  # IPv6 literal: [::1]:5432
        host, _, rest = hostport[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else rest
    else:
        host, _, port = hostport.partition(":")
    if port and not (port.isdigit() and 0 < int(port) < 65536):
        raise ImproperlyConfigured(f"{label}: port {port[:10]!r} is not a number from 1 to 65535")
    return unquote(user), unquote(password), unquote(host), port


def _options(query: str, label: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        raise ImproperlyConfigured(f"{label}: the query part is not a list of key=value options") from None
    return {key: int(value) if value.isdigit() else value for key, value in pairs}


def read_only(db: dict[str, Any], *, label: str) -> dict[str, Any]:
    """A copy of `db` whose sessions refuse writes, enforced by the database itself.

    Belt and braces under the router and the read-only history models: even a
    raw cursor or `migrate --database` cannot change a DB someone else owns.
    """
    options = dict(db.get("OPTIONS", {}))
    if db["ENGINE"] == SQLITE:
        # Django runs each ";"-separated init command on connect.
        options["init_command"] = ";".join(filter(None, [options.get("init_command", ""), "PRAGMA query_only = ON"]))
    elif db["ENGINE"] == POSTGRESQL:
        options["options"] = " ".join(filter(None, [options.get("options", ""), "-c default_transaction_read_only=on"]))
    elif db["ENGINE"] == MYSQL:
        if "init_command" in options:  # drivers run one statement here, so we cannot add ours
            raise ImproperlyConfigured(f"{label}: remove init_command; webmon uses it to make the session read-only")
        options["init_command"] = "SET SESSION TRANSACTION READ ONLY"
    return {**db, "OPTIONS": options}


def make_sqlite_folder(db: dict[str, Any]) -> None:
    """Create the folder of a SQLite database file: a fresh clone has no var/."""
    if db["ENGINE"] == SQLITE and db["NAME"] != ":memory:":
        Path(db["NAME"]).parent.mkdir(parents=True, exist_ok=True)


def install_pymysql_if_needed(databases: dict[str, dict[str, Any]]) -> None:
    """Let Django's mysql backend use PyMySQL, only when a MySQL URL is in use."""
    if any(db["ENGINE"] == MYSQL for db in databases.values()):
        import pymysql  # noqa: PLC0415 - only MySQL deployments need it

        pymysql.install_as_MySQLdb()
