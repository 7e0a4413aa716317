"""Values from the environment: a whole-value ${VAR} takes the key's type; env values never show in errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines.exceptions import SpecError
from pipelines.spec import parse_spec

SPEC = {"name": "s", "start_urls": ["http://shop.example/"], "allowed_domains": ["shop.example"],
        "fields": {"t": {"css": "h1"}}}


def load(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], **keys: object):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    data = {**SPEC, **{k: v for k, v in keys.items() if k != "fetch"}}
    if "fetch" in keys:
        data["fetch"] = keys["fetch"]
    return parse_spec(data, Path("s.toml"))


@pytest.mark.parametrize(("env", "keys", "read", "expected"), [
    ({"MAX_PAGES": "5000"}, {"max_pages": "${MAX_PAGES}"}, lambda s: s.max_pages, 5000),
    ({}, {"max_pages": "${MAX_PAGES:-20000}"}, lambda s: s.max_pages, 20000),
    ({"MAX_PAGES": " 1_000 "}, {"max_pages": "${MAX_PAGES:-20000}"}, lambda s: s.max_pages, 1000),
    ({"DEPTH": "0"}, {"max_depth": "${DEPTH}"}, lambda s: s.max_depth, 0),
    ({"CONCURRENCY": "4"}, {"fetch": {"concurrency": "${CONCURRENCY}"}}, lambda s: s.fetch.concurrency, 4),
    ({"DELAY": "0.25"}, {"fetch": {"delay": "${DELAY}"}}, lambda s: s.fetch.delay, 0.25),
    ({"DELAY": "2"}, {"fetch": {"delay": "${DELAY}"}}, lambda s: s.fetch.delay, 2.0),
    ({"DELAY": "1e-1"}, {"fetch": {"delay": "${DELAY}"}}, lambda s: s.fetch.delay, 0.1),
    ({"ROBOTS": "false"}, {"fetch": {"obey_robots": "${ROBOTS}"}}, lambda s: s.fetch.obey_robots, False),
    ({"ROBOTS": "No"}, {"fetch": {"obey_robots": "${ROBOTS}"}}, lambda s: s.fetch.obey_robots, False),
    ({"ROBOTS": "1"}, {"fetch": {"obey_robots": "${ROBOTS}"}}, lambda s: s.fetch.obey_robots, True),
    ({}, {"canonical_dedupe": "${DEDUPE:-off}"}, lambda s: s.canonical_dedupe, False),
    ({"RATIO": "0.5"}, {"max_error_ratio": "${RATIO}"}, lambda s: s.max_error_ratio, 0.5),
    ({"PAGES": "24"}, {"budgets": {"/cal/": "${PAGES}"}}, lambda s: s.budgets[0][1], 24),
    # Keys that take a string keep the text; a string that is more than one reference stays a string.
    ({"UA": "bot/1.0"}, {"fetch": {"user_agent": "${UA}"}}, lambda s: s.fetch.user_agent, "bot/1.0"),
    ({"PORT": "8080"}, {"start_urls": ["http://shop.example:${PORT}/"]}, lambda s: s.start_urls[0],
     "http://shop.example:8080/"),
    ({"ON_LIMIT": "fail"}, {"on_limit": "${ON_LIMIT}"}, lambda s: s.on_limit["max_pages"], "fail"),
])
def test_a_whole_value_reference_takes_the_keys_type(monkeypatch: pytest.MonkeyPatch, env: dict, keys: dict,
                                                       read, expected: object) -> None:
    value = read(load(monkeypatch, env, **keys))
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize(("env", "keys", "sentence"), [
    ({"MAX_PAGES": "lots"}, {"max_pages": "${MAX_PAGES}"},
     "max_pages: expected a whole number >= 1, but ${MAX_PAGES} in the environment is not one "
     "(its value is not shown: the environment holds secrets)"),
    ({"MAX_PAGES": "2.5"}, {"max_pages": "${MAX_PAGES:-100}"},
     "max_pages: expected a whole number >= 1, but ${MAX_PAGES} in the environment is not one "
     "(its value is not shown: the environment holds secrets)"),
    ({}, {"max_pages": "${MAX_PAGES:-lots}"},
     "max_pages: expected a whole number >= 1, got 'lots', the default of ${MAX_PAGES:-lots}"),
    ({"MAX_PAGES": "0"}, {"max_pages": "${MAX_PAGES}"}, "max_pages: expected a whole number >= 1, got 0"),
    ({"DELAY": "nan"}, {"fetch": {"delay": "${DELAY}"}},
     "fetch.delay: expected a number >= 0, but ${DELAY} in the environment is not one "
     "(its value is not shown: the environment holds secrets)"),
    ({"ROBOTS": "maybe"}, {"fetch": {"obey_robots": "${ROBOTS}"}},
     "fetch.obey_robots: expected true or false, but ${ROBOTS} in the environment is not one "
     "(its value is not shown: the environment holds secrets)"),
    ({"PAGES": "many"}, {"budgets": {"/cal/": "${PAGES}"}},
     "budgets./cal/: expected a whole number >= 0 (pages), but ${PAGES} in the environment is not one "
     "(its value is not shown: the environment holds secrets)"),
    # A list key given one reference: said without the value.
    ({"CODES": "500,502"}, {"fetch": {"retry_http_codes": "${CODES}"}},
     "fetch.retry_http_codes: expected a list of HTTP status codes, got ${CODES} from the environment"),
])
def test_a_value_that_does_not_convert_is_one_sentence_without_the_environments_value(
        monkeypatch: pytest.MonkeyPatch, env: dict, keys: dict, sentence: str) -> None:
    with pytest.raises(SpecError) as error:
        load(monkeypatch, env, **keys)
    assert str(error.value) == f"s.toml: {sentence}"
    for value in env.values():
        if len(value) >= 4:
            assert value not in str(error.value)


@pytest.mark.parametrize(("env", "keys", "sentence"), [
    # A password in a proxy URL that is refused for another reason (that sentence never shows the URL).
    ({"PROXY_PASSWORD": "hunter2-s3cret"}, {"fetch": {"proxies": ["socks9://user:${PROXY_PASSWORD}@proxy.example:1"]}},
     "fetch.proxies: expected proxy URLs like http://user:pass@host:port, got one with scheme 'socks9'"),
    # A token in a start URL's query that is outside allowed_domains.
    ({"TOKEN": "hunter2-s3cret"}, {"start_urls": ["http://other.example/?token=${TOKEN}"]},
     "start_urls: 'http://other.example/?token=${TOKEN}' is outside allowed_domains (shop.example)"),
    # A whole value that is a secret, given to a key that refuses it.
    ({"TOKEN": "hunter2-s3cret"}, {"render": "${TOKEN}"}, "render: expected one of http, browser, got '${TOKEN}'"),
    ({"TOKEN": "hunter2-s3cret"}, {"fetch": {"retry_on_body": [5, "${TOKEN}"]}},
     "fetch.retry_on_body: expected a list of non-empty strings, item 1 is int 5"),
])
def test_a_secret_from_the_environment_never_appears_in_an_error(monkeypatch: pytest.MonkeyPatch, env: dict,
                                                                  keys: dict, sentence: str) -> None:
    with pytest.raises(SpecError) as error:
        load(monkeypatch, env, **keys)
    assert str(error.value) == f"s.toml: {sentence}"
