"""Secrets are masked before a line is stored; ordinary text passes untouched."""

from __future__ import annotations

import pytest

from pipelines.runs.masking import MASK, Masker, env_secrets, url_passwords

MASKED = [
    # credentials in URLs: the user stays, the password goes, even with '@' or ':' inside it
    ("via http://crawler:s3cret@proxy.local:3128/", "via http://crawler:***@proxy.local:3128/"),
    ("postgresql+psycopg2://crawl:pa:ss@db/history", "postgresql+psycopg2://crawl:***@db/history"),
    ("proxy http://u:p@ss@host:8080 failed", "proxy http://u:***@host:8080 failed"),
    ("two: https://a:x1@h1/ and socks5://b:y2@h2/", "two: https://a:***@h1/ and socks5://b:***@h2/"),
    # Authorization headers, in header form and in a dict repr; the scheme word stays
    ("Authorization: Bearer eyJhbGciOi.x.y", "Authorization: Bearer ***"),
    ("proxy-authorization: Basic Zm9vOmJhcg==", "proxy-authorization: Basic ***"),
    ("{'Authorization': 'Token abc', 'Accept': '*/*'}", "{'Authorization': 'Token ***', 'Accept': '*/*'}"),
    ('{"authorization": "raw-key"}', '{"authorization": "***"}'),
    # cookies: names and attributes stay, values go
    ("Cookie: sid=abc123; theme=dark", "Cookie: sid=***; theme=***"),
    ("Set-Cookie: sid=abc123; Path=/; HttpOnly; Max-Age=3600", "Set-Cookie: sid=***; Path=/; HttpOnly; Max-Age=3600"),
    ("<RequestsCookieJar[<Cookie sessionid=xyz for example.com/>]>",
     "<RequestsCookieJar[<Cookie sessionid=*** for example.com/>]>"),
    # key=value, key: value, "key": "value" when the key looks secret
    ("login password=hunter2 user=bob", "login password=*** user=bob"),
    ("DB_PASSWORD=abc ok", "DB_PASSWORD=*** ok"),
    ("passwd: x", "passwd: ***"),
    ('{"api_key": "k\\"ey", "n": 1}', '{"api_key": "***", "n": 1}'),
    ("{'client_secret': 'abc', 'id': 7}", "{'client_secret': '***', 'id': 7}"),
    ("FetchPages(crawl=demo, api_token=xyz)", "FetchPages(crawl=demo, api_token=***)"),
    ("GET /feed?access_token=abc&page=2", "GET /feed?access_token=***&page=2"),
    ("X-ApiKey=abc", "X-ApiKey=***"),
]

UNTOUCHED = [
    "fetched 1,200 of ~5,000 pages, 3 failed",
    "<b>markup</b> & ampersands stay as they are",
    "https://host:8080/path@v2 is not a credential",
    "GET https://example.com/?page=2",
    "password policy changed",  # the word alone, with no value
    "",
]


@pytest.mark.parametrize(("line", "expected"), MASKED)
def test_it_masks_secrets_in_a_line(line: str, expected: str) -> None:
    assert Masker()(line) == expected


@pytest.mark.parametrize("line", UNTOUCHED)
def test_it_leaves_ordinary_lines_alone(line: str) -> None:
    assert Masker()(line) == line


def test_it_masks_literal_values_wherever_they_appear() -> None:
    masker = Masker(["hunter2-proxy", "short"])
    assert masker("error near hunter2-proxy, retrying") == f"error near {MASK}, retrying"
    assert masker("a short word stays") == "a short word stays"  # under MIN_LITERAL: would mask ordinary words


def test_it_masks_a_batch_like_single_lines() -> None:
    masker = Masker(["hunter2-proxy"])
    lines = ["plain", "password=x", "plain again", "has hunter2-proxy"]
    assert masker.many(lines) == [masker(line) for line in lines]
    clean = ["a", "b"]
    assert masker.many(clean) is clean  # nothing to mask: the same list, no per-line work


def test_it_takes_secret_values_from_the_environment() -> None:
    env = {"DB_PASSWORD": "correct-horse", "GITHUB_TOKEN": "ghp_123456", "API_KEY": "k" * 8,
           "PWD": "/work/main", "HOME": "/root", "SECRET": "1"}
    assert sorted(env_secrets(env)) == sorted(["correct-horse", "ghp_123456", "k" * 8])


def test_it_finds_proxy_passwords_raw_and_decoded() -> None:
    assert url_passwords(["http://u:p%40ss@h:1", "http://h:2", "not a url"]) == ["p%40ss", "p@ss"]


def test_it_masks_parameter_maps_by_key() -> None:
    masker = Masker()
    assert masker.mask_mapping({"crawl": "demo", "api_token": "abc", "url": "http://u:pw@h/"}) == {
        "crawl": "demo", "api_token": MASK, "url": "http://u:***@h/"}
