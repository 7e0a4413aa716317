"""Who may read /metrics: the bearer token or an allow-listed address; 401 or 403 for everyone else."""

from __future__ import annotations

import logging

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import Client, override_settings

from webmon.metrics.access import allow_list, decide

LOCAL = allow_list(["127.0.0.1", "::1"])
TOKEN = "s3cret-token-for-tests"
CHALLENGE = 'Bearer realm="crawlops metrics"'
INVALID = 'Bearer realm="crawlops metrics", error="invalid_token"'


@pytest.mark.parametrize(("meta", "token", "expected"), [
    ({"REMOTE_ADDR": "127.0.0.1"}, "", (200, None)),
    ({"REMOTE_ADDR": "::1"}, "", (200, None)),
    ({"REMOTE_ADDR": "::ffff:127.0.0.1"}, "", (200, None)),  # a dual-stack socket's form of 127.0.0.1
    ({"REMOTE_ADDR": "203.0.113.9"}, "", (403, None)),  # nothing the client could do
    ({"REMOTE_ADDR": "203.0.113.9"}, TOKEN, (401, CHALLENGE)),  # it could send the token
    ({"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}, TOKEN, (200, None)),
    ({"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": f"bearer  {TOKEN} "}, TOKEN, (200, None)),
    ({"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer wrong"}, TOKEN, (401, INVALID)),
    ({"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": f"Basic {TOKEN}"}, TOKEN, (401, INVALID)),
    ({"REMOTE_ADDR": "203.0.113.9", "HTTP_AUTHORIZATION": "Bearer "}, "", (401, INVALID)),  # no token: none works
    ({"REMOTE_ADDR": "127.0.0.1", "HTTP_AUTHORIZATION": "Bearer wrong"}, TOKEN, (401, INVALID)),  # bad is bad
    # Through a proxy on the same host: its address says nothing about the client.
    ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "203.0.113.9"}, TOKEN, (401, CHALLENGE)),
    ({"REMOTE_ADDR": "127.0.0.1", "HTTP_FORWARDED": "for=203.0.113.9"}, "", (403, None)),
    ({"REMOTE_ADDR": "127.0.0.1", "HTTP_X_REAL_IP": "203.0.113.9"}, "", (403, None)),
    ({"REMOTE_ADDR": "not-an-address"}, "", (403, None)),
    ({}, "", (403, None)),
])
def test_the_rules(meta: dict[str, str], token: str, expected: tuple[int, str | None]) -> None:
    assert decide(meta, token, LOCAL) == expected


def test_cidrs_and_none() -> None:
    nets = allow_list(["10.0.0.0/8", "2001:db8::/32", "192.0.2.7"])
    assert decide({"REMOTE_ADDR": "10.1.2.3"}, "", nets) == (200, None)
    assert decide({"REMOTE_ADDR": "2001:db8::5"}, "", nets) == (200, None)
    assert decide({"REMOTE_ADDR": "192.0.2.8"}, "", nets) == (403, None)
    assert allow_list(["none"]) == ()
    assert decide({"REMOTE_ADDR": "127.0.0.1"}, "", ()) == (403, None)


def test_a_bad_allow_list_item_is_refused_with_a_sentence() -> None:
    with pytest.raises(ImproperlyConfigured, match=r"METRICS_ALLOW: '10\.0\.0\.0/33' is not an IP address or CIDR"):
        allow_list(["127.0.0.1", "10.0.0.0/33"])


def test_a_bad_allow_list_stops_webmon_at_start(manage) -> None:
    done = manage("check", env={"METRICS_ALLOW": "127.0.0.1,localhost"})
    assert done.returncode != 0
    assert "METRICS_ALLOW: 'localhost' is not an IP address or CIDR" in done.stderr


def test_the_token_opens_metrics_from_anywhere_without_a_login(anonymous: Client) -> None:
    with override_settings(METRICS_TOKEN=TOKEN, LUIGID_URL="http://127.0.0.1:9"):
        response = anonymous.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200
    assert b"crawl_build_info" in response.content
    assert response["Cache-Control"].startswith("max-age=0")


def test_no_token_from_outside_is_401_with_a_challenge_and_says_nothing_else(anonymous: Client) -> None:
    with override_settings(METRICS_TOKEN=TOKEN):
        response = anonymous.get("/metrics", REMOTE_ADDR="203.0.113.9")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == CHALLENGE
    assert b"crawl_" not in response.content and TOKEN.encode() not in response.content


def test_a_wrong_token_is_401(anonymous: Client) -> None:
    with override_settings(METRICS_TOKEN=TOKEN):
        response = anonymous.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer guess")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == INVALID


def test_outside_the_allow_list_without_a_configured_token_is_403(anonymous: Client) -> None:
    with override_settings(METRICS_TOKEN="", METRICS_ALLOW=allow_list(["10.0.0.0/8"])):
        assert anonymous.get("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 403
        with override_settings(LUIGID_URL="http://127.0.0.1:9"):
            assert anonymous.get("/metrics", REMOTE_ADDR="10.9.8.7").status_code == 200


def test_a_logged_in_user_still_needs_the_token_or_the_allow_list(client: Client) -> None:
    with override_settings(METRICS_TOKEN=TOKEN):
        assert client.get("/metrics", REMOTE_ADDR="203.0.113.9").status_code == 401


def test_only_get_and_head(anonymous: Client) -> None:
    assert anonymous.post("/metrics", REMOTE_ADDR="127.0.0.1").status_code == 405


def test_the_token_is_never_logged(anonymous: Client, caplog: pytest.LogCaptureFixture) -> None:
    requests = logging.getLogger("webmon.requests")  # it does not propagate to the root logger
    requests.addHandler(caplog.handler)
    try:
        with caplog.at_level(logging.DEBUG), override_settings(METRICS_TOKEN=TOKEN, LUIGID_URL="http://127.0.0.1:9"):
            anonymous.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
            anonymous.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}x")
    finally:
        requests.removeHandler(caplog.handler)
    logged = "\n".join(f"{r.getMessage()} {getattr(r, 'json', '')}" for r in caplog.records)
    assert "/metrics" in logged  # the request log saw them
    assert TOKEN not in logged
