"""The environment helpers refuse bad values with a sentence."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured

from webmon.env import env_bool, env_int, env_list, env_str


def test_it_refuses_a_bad_boolean(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_bool("DEBUG", True)
    assert str(excinfo.value) == "DEBUG=maybe: expected one of true/false/1/0/yes/no"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("YES", True), ("1", True), ("False", False), ("no", False), ("0", False)],
)
def test_it_reads_booleans_in_any_case(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("DEBUG", raw)
    assert env_bool("DEBUG", not expected) is expected


def test_an_unset_or_empty_variable_gives_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WEBMON_TEST_VAR", raising=False)
    assert env_bool("WEBMON_TEST_VAR", True) is True
    monkeypatch.setenv("WEBMON_TEST_VAR", "  ")
    assert env_bool("WEBMON_TEST_VAR", False) is False
    assert env_int("WEBMON_TEST_VAR", 7) == 7
    assert env_str("WEBMON_TEST_VAR", "x") == "x"
    assert env_list("WEBMON_TEST_VAR", ["a"]) == ["a"]


def test_it_refuses_a_number_that_is_not_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERS", "2.5")
    with pytest.raises(ImproperlyConfigured, match=r"^WORKERS=2\.5: expected a whole number$"):
        env_int("WORKERS", 1)


def test_it_refuses_a_number_below_the_minimum(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORKERS", "0")
    with pytest.raises(ImproperlyConfigured, match=r"^WORKERS=0: expected a whole number of at least 1$"):
        env_int("WORKERS", 1, minimum=1)
    monkeypatch.setenv("WORKERS", " 3 ")
    assert env_int("WORKERS", 1, minimum=1) == 3


def test_it_splits_a_list_and_strips_the_items(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "mon.example.com, 10.0.0.5 ")
    assert env_list("ALLOWED_HOSTS", []) == ["mon.example.com", "10.0.0.5"]


def test_it_refuses_an_empty_list_item(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "a,,b")
    expected = "^ALLOWED_HOSTS=a,,b: expected comma-separated items with none empty$"
    with pytest.raises(ImproperlyConfigured, match=expected):
        env_list("ALLOWED_HOSTS", [])


def test_an_http_url_is_checked_without_echoing_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from webmon.env import env_http_url

    monkeypatch.setenv("LUIGID_URL", "ftp://user:hunter2@host")
    with pytest.raises(ImproperlyConfigured) as excinfo:
        env_http_url("LUIGID_URL", "http://127.0.0.1:8082")
    assert str(excinfo.value).startswith("LUIGID_URL: expected an http:// or https:// URL with a host")
    assert "hunter2" not in str(excinfo.value)
    monkeypatch.setenv("LUIGID_URL", "http://luigid:8082")
    assert env_http_url("LUIGID_URL", "x") == "http://luigid:8082"


def test_a_choice_is_one_of_a_list(monkeypatch: pytest.MonkeyPatch) -> None:
    from webmon.env import env_choice

    monkeypatch.setenv("WEBMON_LOG_LEVEL", "warning")
    assert env_choice("WEBMON_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING")) == "WARNING"
    monkeypatch.setenv("WEBMON_LOG_LEVEL", "loud")
    with pytest.raises(ImproperlyConfigured, match="^WEBMON_LOG_LEVEL=loud: expected one of DEBUG/INFO/WARNING$"):
        env_choice("WEBMON_LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING"))
