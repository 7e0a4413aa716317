"""URL normalisation, the crawl's dedupe key, and link extraction.

`normalize` makes a link fetchable and tidy (scheme and host lower case, no
default port, no fragment, '/' for an empty path). A crawl then applies its
`UrlRules` to each normalised link: `clean` drops tracking query parameters
(the URL is fetched without them), and `key` is what the discovered set holds,
by default the canonical form of `w3lib.url.canonicalize_url` (query
arguments sorted, percent-encoding normalised, dot segments resolved), the
form Scrapy fingerprints requests by. The URL is still fetched as found.

All of it is on the hot path (every link of every page): plain string work,
with w3lib's full canonicalisation only for URLs it would change.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import unquote_plus, urljoin, urlsplit, urlunsplit

import lxml.html
from w3lib.url import canonicalize_url, safe_url_string

from pipelines.fetch.keyset import Recent

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "ftp:", "file:")
# Tracking parameters: they never change the page, only the analytics.
DEFAULT_STRIP_PARAMS = ("utm_*", "gclid", "fbclid")

# URLs canonicalize_url returns unchanged: no query, no percent sign, no dot
# segment, no IPv6 host, no ';' (path parameters, which it rewrites) and none
# of the characters it percent-encodes ('"<>^`{}' and backslash). Checked against
# canonicalize_url itself in the tests.
_NOT_PLAIN_BASE = re.compile(r"[^A-Za-z0-9\-._~!$&'()*+,=:@/|]")
# Query arguments it decodes and re-encodes to the same text ('+' is a space
# both ways, and sorts before every other character here either way).
_NOT_PLAIN_QUERY = re.compile(r"[^A-Za-z0-9\-._~+=&]")


def normalize(url: str) -> str | None:
    """The normalised form of an absolute http(s) URL, or None for anything else."""
    if not url.isascii() or " " in url:
        url = safe_url_string(url.strip())
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not parts.hostname:
        return None
    host = parts.hostname  # already lower case
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None or port == _DEFAULT_PORTS[scheme] else f"{host}:{port}"
    if parts.username or parts.password:
        netloc = parts.netloc.rpartition("@")[0] + "@" + netloc
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def canonical_key(url: str) -> str:
    """`w3lib.url.canonicalize_url(url)` for a normalised URL, without its cost for plain URLs.

    canonicalize_url takes 8-20 µs a URL; most links need only a split and a
    regex match (and a sort when they have a simple query).
    """
    base, sep, query = url.partition("?")
    if "/." in base or _NOT_PLAIN_BASE.search(base) is not None:
        return canonicalize_url(url)
    if not sep:
        return url
    if _NOT_PLAIN_QUERY.search(query) is not None:
        return canonicalize_url(url)
    if "&" not in query:  # one argument: nothing to sort
        equals = query.count("=")
        if equals == 1:
            return url
        if equals == 0:
            return f"{url}=" if query else base
        return canonicalize_url(url)  # it encodes a second '='
    parts = []
    # (name, "=" or "", value) sorts as canonicalize_url's (name, value) does.
    for name, _, value in sorted([item.partition("=") for item in query.split("&") if item]):
        if "=" in value:
            return canonicalize_url(url)
        parts.append(f"{name}={value}")
    return f"{base}?{'&'.join(parts)}" if parts else base


class UrlRules:
    """What a crawl does to every discovered URL: `clean` it, then dedupe it by `key`.

    strip_params: glob patterns (fnmatch, case-sensitive) of query parameter
    names to drop before the URL is fetched. canonical: dedupe by
    `canonical_key`; when false, by the cleaned URL as it is (for sites where
    the order of query arguments matters).
    """

    # Spellings that differ from their key, remembered: a site's templates put
    # the same links (facets, tagged promos) on every page, in the same order.
    MEMO_SIZE = 10_000

    def __init__(self, strip_params: Sequence[str] = DEFAULT_STRIP_PARAMS, canonical: bool = True) -> None:
        self.key: Callable[[str], str] = canonical_key if canonical else str  # str(url) is url
        self._memo: dict[str, tuple[str, str]] = {}
        self._strip = re.compile("|".join(fnmatch.translate(p) for p in strip_params)).match if strip_params else None
        # A query containing none of the patterns' literal prefixes ("utm_",
        # "gclid") nor a '%' has nothing to strip: one substring test per prefix.
        prefixes = tuple(re.split(r"[*?\[]", p, maxsplit=1)[0] for p in strip_params)
        self._prefixes = prefixes if all(prefixes) else None

    def resolve(self, url: str) -> tuple[str, str]:
        """(the URL to fetch, its dedupe key): `clean(url)` and its `key`."""
        known = self._memo.get(url)
        if known is not None:
            return known
        clean = self.clean(url)
        key = self.key(clean)
        if key is not url:  # a plain URL is its own key: the discovered set settles it
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[url] = (clean, key)
        return clean, key

    def clean(self, url: str) -> str:
        """`url` without the query parameters named by strip_params (the rest as they were)."""
        strip = self._strip
        if strip is None:
            return url
        base, _, query = url.partition("?")
        if not query:
            return url
        if self._prefixes is not None and "%" not in query and not any(p in query for p in self._prefixes):
            return url
        kept = []
        for item in query.split("&"):
            name = item.partition("=")[0]
            if "%" in name or "+" in name:
                name = unquote_plus(name)
            if not strip(name):
                kept.append(item)
        if len(kept) == query.count("&") + 1:
            return url
        kept = [item for item in kept if item]
        return f"{base}?{'&'.join(kept)}" if kept else base


def host_of(url: str) -> str:
    """The host of a URL, lower case (an IPv6 address without brackets).

    Called for every new link and every response: a normalised URL
    ("scheme://[userinfo@]host[:port]/...") is read without urlsplit.
    """
    scheme, sep, rest = url.partition("://")
    netloc = rest.partition("/")[0]
    if not sep or scheme not in _DEFAULT_PORTS or "?" in netloc or "#" in netloc:
        return urlsplit(url).hostname or ""
    host = netloc.rpartition("@")[2]
    if host.startswith("["):
        return host[1:host.find("]")].lower()
    return host.partition(":")[0].lower()


def extract_links(body: bytes, base_url: str, encoding: str | None = None) -> list[str]:
    """Absolute, normalised targets of <a href> and <area href>, in page order."""
    if not body.strip():
        return []
    parser = lxml.html.HTMLParser(encoding=encoding) if encoding else None
    try:
        root = lxml.html.document_fromstring(body, parser=parser)
    except (ValueError, lxml.etree.ParserError):
        return []
    return links_of(root, base_url)


# The hrefs a memo of links_of remembers per generation (pipelines.fetch.keyset.Recent).
LINK_MEMO_SIZE = 20_000
_MISS = object()


def _resolve(base_url: str, href: str) -> str | None:
    """The normalised absolute URL of an href; None for one urljoin cannot parse ('http://[bad')."""
    try:
        return normalize(urljoin(base_url, href))
    except ValueError:
        return None


def links_of(root: Any, base_url: str, memo: Recent[tuple[str, str], str | None] | None = None) -> list[str]:
    """`extract_links` on a parsed tree (lxml, or a parsel Selector's root).

    memo, kept by the caller across pages, remembers each href's resolved
    link: a site's header, menu and footer links repeat on every page of a
    directory, so 100+ urljoin and normalize calls a page become dict hits.
    """
    return resolve_hrefs(root.xpath(ANCHORS_XPATH), page_base(root, base_url), memo)


# <a href> and <area href>: the links every crawl follows unless [links] anchors = false.
ANCHORS_XPATH = "//a/@href | //area/@href"


def page_base(root: Any, base_url: str) -> str:
    """The URL a page's relative links resolve against: its <base href>, else its own URL."""
    base = root.xpath("//base/@href")
    return urljoin(base_url, base[0].strip()) if base else base_url


def resolve_hrefs(hrefs: Any, base_url: str, memo: Recent[tuple[str, str], str | None] | None = None) -> list[str]:
    """The normalised absolute URLs of `hrefs` (strings as found in a page), in order; others dropped."""
    # A relative href resolves against the base's directory alone, except
    # '?q' and ';p', which keep the base's last segment.
    directory = urljoin(base_url, ".") if memo is not None else ""
    links = []
    for href in hrefs:
        href = href.strip()
        if not href or href.startswith("#") or href.lower().startswith(_SKIP_SCHEMES):
            continue
        if memo is None:
            url = _resolve(base_url, href)
        else:
            key = (base_url if href[0] in "?;" else directory, href)
            url = memo.get(key, _MISS)  # type: ignore[arg-type]
            if url is _MISS:
                url = _resolve(base_url, href)
                memo.put(key, url)
        if url is not None:
            links.append(url)
    return links
