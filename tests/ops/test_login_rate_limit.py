"""Login rate limiting: 429 after N failures per user name or per client address, reset after the window."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import time_machine
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client, override_settings

GOOD = {"username": "operator", "password": "not-a-real-password-1"}
BAD = {"username": "operator", "password": "wrong"}


@pytest.fixture(autouse=True)
def _fresh_counts(webmon_db: None) -> Iterator[None]:
    cache.clear()
    with override_settings(WEBMON_LOGIN_FAILURES=3, WEBMON_LOGIN_FAILURES_PER_IP=5, WEBMON_LOGIN_WINDOW_S=900):
        yield
    cache.clear()


@pytest.mark.parametrize("path", ["/login/", "/admin/login/"])
def test_429_after_n_failures_for_a_user_name(user: User, path: str) -> None:
    client = Client()
    for _ in range(3):
        assert client.post(path, BAD).status_code == 200  # the form again, with the error
    response = client.post(path, GOOD)  # even the right password: the name is locked for the window
    assert response.status_code == 429
    assert "Too many failed logins" in response.content.decode()
    assert response["Retry-After"] == "900"


def test_the_count_resets_after_the_window(user: User) -> None:
    # The clock is moved, not waited for: on a busy machine one login POST (password
    # hashing) can take longer than a short real window.
    client = Client()
    with override_settings(WEBMON_LOGIN_WINDOW_S=60), time_machine.travel(time.time(), tick=False) as clock:
        for _ in range(3):
            client.post("/login/", BAD)
        clock.shift(59)
        assert client.post("/login/", GOOD).status_code == 429  # still inside the window
        clock.shift(2)
        assert client.post("/login/", GOOD).status_code == 302


def test_cache_clear_resets_and_a_success_clears_the_user_count(user: User) -> None:
    client = Client()
    for _ in range(3):
        client.post("/login/", BAD)
    assert client.post("/login/", GOOD).status_code == 429
    cache.clear()
    client.post("/login/", BAD)
    client.post("/login/", BAD)
    assert client.post("/login/", GOOD).status_code == 302  # success: the user's count starts again
    client.logout()
    for _ in range(2):
        assert Client().post("/login/", BAD).status_code == 200


def test_429_after_n_failures_from_one_address_across_names(user: User) -> None:
    client = Client(REMOTE_ADDR="203.0.113.7")
    for i in range(5):
        assert client.post("/login/", {"username": f"nobody{i}", "password": "x"}).status_code == 200
    assert client.post("/login/", GOOD).status_code == 429
    assert Client(REMOTE_ADDR="203.0.113.8").post("/login/", GOOD).status_code == 302  # another address


def test_get_and_other_pages_are_not_limited(user: User) -> None:
    client = Client()
    for _ in range(3):
        client.post("/login/", BAD)
    assert client.get("/login/").status_code == 200
    assert client.get("/healthz").status_code in (200, 503)
