"""Database URLs become Django DATABASES entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from webmon.dburl import db_from_url, read_only

BASE = Path("/srv/webmon")


def test_a_relative_sqlite_path_is_relative_to_the_repository_root() -> None:
    db = db_from_url("sqlite:///var/webmon.db", BASE)
    assert db == {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/webmon/var/webmon.db", "OPTIONS": {}}


def test_four_slashes_make_an_absolute_sqlite_path() -> None:
    assert db_from_url("sqlite:////data/history.db", BASE)["NAME"] == "/data/history.db"


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_sqlite_can_live_in_memory(url: str) -> None:
    assert db_from_url(url, BASE)["NAME"] == ":memory:"


def test_a_sqlalchemy_driver_suffix_is_dropped_and_sqlite_options_kept() -> None:
    db = db_from_url("sqlite+pysqlite:///var/h%20b.db?timeout=20", BASE)
    assert db == {"ENGINE": "django.db.backends.sqlite3", "NAME": "/srv/webmon/var/h b.db", "OPTIONS": {"timeout": 20}}


def test_a_sqlite_url_with_a_host_is_refused() -> None:
    with pytest.raises(ImproperlyConfigured, match="a sqlite URL has no host"):
        db_from_url("sqlite://var/webmon.db", BASE)


def test_a_postgres_url_with_an_encoded_password_port_and_options() -> None:
    url = "postgres://web%20mon:p%40ss%3Aw%2Frd%25@db.example.com:6432/webmon?sslmode=require&connect_timeout=5"
    db = db_from_url(url, BASE)
    assert db == {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": "webmon",
        "USER": "web mon",
        "PASSWORD": "p@ss:w/rd%",
        "HOST": "db.example.com",
        "PORT": "6432",
        "OPTIONS": {"sslmode": "require", "connect_timeout": 5},
    }


def test_postgresql_with_a_driver_and_a_socket_folder_as_host() -> None:
    db = db_from_url("postgresql+psycopg2://luigi@%2Fvar%2Frun%2FPostgreSQL/history", BASE)
    assert (db["ENGINE"], db["HOST"], db["PORT"], db["USER"], db["PASSWORD"]) == (
        "django.db.backends.postgresql", "/var/run/PostgreSQL", "", "luigi", "")


def test_an_unencoded_at_sign_in_the_password_still_finds_the_host() -> None:
    db = db_from_url("postgresql://u:p@ss@h/n", BASE)
    assert (db["PASSWORD"], db["HOST"]) == ("p@ss", "h")


def test_an_ipv6_host_with_a_port() -> None:
    db = db_from_url("postgresql://u@[::1]:5433/n", BASE)
    assert (db["HOST"], db["PORT"]) == ("::1", "5433")


@pytest.mark.parametrize("scheme", ["mysql", "mysql+pymysql", "mariadb"])
def test_mysql_and_mariadb_use_the_mysql_backend(scheme: str) -> None:
    db = db_from_url(f"{scheme}://luigi:s3cret@127.0.0.1:3306/history?charset=utf8mb4", BASE)
    assert db == {
        "ENGINE": "django.db.backends.mysql",
        "NAME": "history",
        "USER": "luigi",
        "PASSWORD": "s3cret",
        "HOST": "127.0.0.1",
        "PORT": "3306",
        "OPTIONS": {"charset": "utf8mb4"},
    }


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("oracle://u:hunter2@h/n", "expected a URL starting with one of sqlite://, postgres://"),
        ("webmon.db", "expected a URL starting with one of"),
        ("postgresql://u:hunter2@h:54x32/n", "port '54x32' is not a number from 1 to 65535"),
        ("postgresql://u:hunter2@h:70000/n", "port '70000' is not a number from 1 to 65535"),
        ("postgresql://u:hunter2@h:5432/", "the URL names no database"),
        ("postgresql://u:hunter2@h/n?sslmode", "the query part is not a list of key=value options"),
    ],
)
def test_it_refuses_a_bad_url_without_showing_the_password(url: str, message: str) -> None:
    with pytest.raises(ImproperlyConfigured) as excinfo:
        db_from_url(url, BASE, label="DATABASE_URL")
    assert str(excinfo.value).startswith("DATABASE_URL: ")
    assert message in str(excinfo.value)
    assert "hunter2" not in str(excinfo.value)


def test_read_only_asks_each_database_to_refuse_writes() -> None:
    sqlite = read_only(db_from_url("sqlite:///var/h.db", BASE), label="x")
    assert sqlite["OPTIONS"] == {"init_command": "PRAGMA query_only = ON"}
    pg = read_only(db_from_url("postgresql://u@h/n?options=-c%20statement_timeout%3D5000", BASE), label="x")
    assert pg["OPTIONS"] == {"options": "-c statement_timeout=5000 -c default_transaction_read_only=on"}
    my = read_only(db_from_url("mysql://u@h/n", BASE), label="x")
    assert my["OPTIONS"] == {"init_command": "SET SESSION TRANSACTION READ ONLY"}
    with pytest.raises(ImproperlyConfigured, match="remove init_command"):
        read_only(db_from_url("mysql://u@h/n?init_command=SET%20x%3D1", BASE), label="x")
