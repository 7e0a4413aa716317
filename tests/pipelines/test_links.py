"""Dedupe keys, tracking-parameter stripping (pipelines.fetch.links.UrlRules) and host_of."""

from __future__ import annotations

import random
from urllib.parse import urlsplit

import pytest
from w3lib.url import canonicalize_url

from pipelines.fetch.links import UrlRules, canonical_key, host_of, normalize


@pytest.mark.parametrize(("one", "other"), [
    ("http://e.com/p?b=2&a=1", "http://e.com/p?a=1&b=2"),
    ("http://e.com/p?a=2&a=1", "http://e.com/p?a=1&a=2"),
    ("http://e.com/p?q=%7e", "http://e.com/p?q=~"),
    ("http://e.com/a%2fb", "http://e.com/a%2Fb"),
    ("http://e.com/%7Euser/", "http://e.com/~user/"),
    ("http://e.com/p?q=a%20b", "http://e.com/p?q=a+b"),
    ("http://e.com/p?a&b=1", "http://e.com/p?b=1&a="),
    ("http://e.com/a/./b/../c", "http://e.com/a/c"),
    ("http://E.com:80/p#top", "http://e.com/p"),
])
def test_equivalent_urls_have_one_key(one: str, other: str) -> None:
    assert canonical_key(normalize(one)) == canonical_key(normalize(other))  # type: ignore[arg-type]


@pytest.mark.parametrize(("one", "other"), [
    ("http://e.com/p?a=1", "http://e.com/p?a=2"),
    ("http://e.com/a.html", "http://e.com/A.html"),
    ("http://e.com/p", "http://e.com/p/"),
    ("http://e.com/a%2Fb", "http://e.com/a/b"),
])
def test_different_urls_keep_different_keys(one: str, other: str) -> None:
    assert canonical_key(normalize(one)) != canonical_key(normalize(other))  # type: ignore[arg-type]


def test_the_key_is_what_canonicalize_url_gives_on_its_fast_paths_too() -> None:
    # Random URLs over the characters where the shortcuts and w3lib could part.
    rng = random.Random(15)
    path_chars = "aZ09-._~!$&'()*+,;=:@/|%2f%7E%e9 \"<>\\^`{}[]."
    query_chars = "ab+-.~_==&&%20 ,/;"
    hosts = ["e.com", "E.com:80", "u:p@e.com", "[::0:1]", "e.com:8080", "xn--caf-dma.com", "caf\u00e9.com"]
    checked = 0
    for _ in range(20_000):
        path = "".join(rng.choice(path_chars) for _ in range(rng.randrange(0, 10)))
        query = "".join(rng.choice(query_chars) for _ in range(rng.randrange(0, 12)))
        url = normalize(f"http://{rng.choice(hosts)}/{path}" + (f"?{query}" if rng.random() < 0.7 else ""))
        if url is not None:
            assert canonical_key(url) == canonicalize_url(url), url
            checked += 1
    assert checked > 15_000


def test_tracking_parameters_are_stripped_and_the_rest_kept_as_they_were() -> None:
    rules = UrlRules()
    assert rules.clean("http://e.com/p?b=2&utm_source=x&a=%7e&gclid=1&fbclid=2&utm_medium=y") == \
        "http://e.com/p?b=2&a=%7e"
    assert rules.clean("http://e.com/p?utm_source=x&utm_campaign=y") == "http://e.com/p"
    assert rules.clean("http://e.com/p?utm%5Fsource=x&q=1") == "http://e.com/p?q=1"
    assert rules.clean("http://e.com/p?q=utm_source&sort=gclid") == "http://e.com/p?q=utm_source&sort=gclid"
    assert rules.clean("http://e.com/p?b=2&&a=1") == "http://e.com/p?b=2&&a=1"  # nothing to strip: untouched


def test_strip_patterns_are_globs_and_can_be_emptied() -> None:
    rules = UrlRules(["*sessionid", "ref"], canonical=True)
    assert rules.clean("http://e.com/p?jsessionid=1&ref=x&refresh=1&utm_source=y") == \
        "http://e.com/p?refresh=1&utm_source=y"
    assert UrlRules([]).clean("http://e.com/p?utm_source=x") == "http://e.com/p?utm_source=x"


def test_without_canonical_dedupe_the_key_is_the_url() -> None:
    rules = UrlRules(canonical=False)
    assert rules.key("http://e.com/p?b=2&a=1") == "http://e.com/p?b=2&a=1"
    assert UrlRules().key("http://e.com/p?b=2&a=1") == "http://e.com/p?a=1&b=2"


@pytest.mark.parametrize("url", [
    "http://e.com/", "https://E.com:8443/a?b", "http://u:p@e.com:81/", "http://[::1]:99/x", "http://e.com?q",
    "HTTP://E.COM/", "mailto:x@e.com", "http://u@x:p@e.com/", "//e.com/a", "http://e.com#f",
])
def test_host_of_agrees_with_urlsplit(url: str) -> None:
    assert host_of(url) == (urlsplit(url).hostname or "")
    if normalize(url) is not None:
        assert host_of(normalize(url)) == urlsplit(url).hostname  # type: ignore[arg-type]
