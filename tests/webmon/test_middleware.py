"""Every request: login required, timing and request id headers, security headers, one JSON log line."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
from django.contrib.auth.models import User
from django.test import Client, override_settings
from history_seed import HistorySeed

from webmon.monitor.jsonlog import JsonFormatter

PAGES = [
    "/",
    "/runs/",
    "/runs/1/",
    "/runs/1/log.json",
    "/runs/1/log.txt",
    "/runs/1/log/1.txt",
    "/crawl/?name=x",
    "/families/",
]


@pytest.fixture(autouse=True)
def luigid_down() -> None:
    with override_settings(LUIGID_URL="http://127.0.0.1:9"):
        yield


@pytest.fixture
def request_log() -> list[logging.LogRecord]:
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append  # type: ignore[method-assign]
    logger = logging.getLogger("webmon.requests")
    logger.addHandler(handler)
    yield records
    logger.removeHandler(handler)


@pytest.mark.parametrize("path", PAGES)
def test_every_page_requires_login(anonymous: Client, path: str) -> None:
    response = anonymous.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")


def test_the_login_page_logs_a_user_in(anonymous: Client, user: User) -> None:
    assert anonymous.get("/login/").status_code == 200
    response = anonymous.post(
        "/login/?next=/families/", {"username": "operator", "password": "not-a-real-password-1", "next": "/families/"}
    )
    assert response.status_code == 302 and response["Location"] == "/families/"


def test_a_wrong_password_is_refused(anonymous: Client, user: User) -> None:
    response = anonymous.post("/login/", {"username": "operator", "password": "wrong"})
    assert response.status_code == 200
    assert 'id="login-error"' in response.content.decode()


def test_logout_is_a_post_with_a_csrf_token(user: User, history: HistorySeed) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    assert client.get("/logout/").status_code == 405
    assert client.post("/logout/").status_code == 403  # no token
    page = client.get("/families/").content.decode()
    token = page.split('name="csrfmiddlewaretoken" value="', 1)[1].split('"', 1)[0]
    response = client.post("/logout/", {"csrfmiddlewaretoken": token})
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert client.get("/families/").status_code == 302


def test_responses_carry_timing_and_a_request_id(client: Client, history: HistorySeed) -> None:
    response = client.get("/families/")
    assert float(response["X-Page-Duration-ms"]) >= 0
    assert uuid.UUID(response["X-Request-ID"]).version == 4
    assert client.get("/families/")["X-Request-ID"] != response["X-Request-ID"]


@pytest.mark.parametrize("path", ["/families/", "/login/", "/healthz"])
def test_responses_carry_security_headers(client: Client, history: HistorySeed, path: str) -> None:
    response = client.get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp


def test_each_request_logs_one_json_line_without_the_query_string(
    client: Client, user: User, history: HistorySeed, request_log: list[logging.LogRecord]
) -> None:
    response = client.get("/runs/?q=secret-token-123")
    assert len(request_log) == 1
    line = json.loads(JsonFormatter().format(request_log[0]))
    assert line["logger"] == "webmon.requests" and line["level"] == "INFO" and line["event"] == "request"
    assert line["request_id"] == response["X-Request-ID"]
    assert (line["method"], line["path"], line["status"], line["user_id"]) == ("GET", "/runs/", 200, user.pk)
    assert line["duration_ms"] == float(response["X-Page-Duration-ms"])
    assert "secret-token-123" not in JsonFormatter().format(request_log[0])


def test_an_anonymous_request_logs_no_user(anonymous: Client, request_log: list[logging.LogRecord]) -> None:
    anonymous.get("/")
    assert request_log[0].json["user_id"] is None  # type: ignore[attr-defined]
    assert request_log[0].json["status"] == 302  # type: ignore[attr-defined]


def test_the_request_log_is_configured_as_json_on_stderr() -> None:
    from django.conf import settings

    logger = settings.LOGGING["loggers"]["webmon.requests"]
    assert logger["handlers"] == ["json_stderr"]
    assert settings.LOGGING["formatters"]["json"]["()"] == "webmon.monitor.jsonlog.JsonFormatter"
