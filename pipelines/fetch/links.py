"""URL normalisation and link extraction.

`normalize` makes equal URLs equal strings (scheme and host lower case, no
default port, no fragment, '/' for an empty path), so the crawl never fetches
one page twice. It is on the hot path: plain string work, no regexes.
"""

from __future__ import annotations

from urllib.parse import urljoin, urlsplit, urlunsplit

import lxml.html
from w3lib.url import safe_url_string

_DEFAULT_PORTS = {"http": 80, "https": 443}
_SKIP_SCHEMES = ("javascript:", "mailto:", "tel:", "data:", "ftp:", "file:")


def normalize(url: str) -> str | None:
    """The canonical form of an absolute http(s) URL, or None for anything else."""
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


def host_of(url: str) -> str:
    return urlsplit(url).hostname or ""


def extract_links(body: bytes, base_url: str, encoding: str | None = None) -> list[str]:
    """Absolute, normalised targets of <a href> and <area href>, in page order."""
    if not body.strip():
        return []
    parser = lxml.html.HTMLParser(encoding=encoding) if encoding else None
    try:
        root = lxml.html.document_fromstring(body, parser=parser)
    except (ValueError, lxml.etree.ParserError):
        return []
    base = root.xpath("//base/@href")
    if base:
        base_url = urljoin(base_url, base[0].strip())
    links = []
    for href in root.xpath("//a/@href | //area/@href"):
        href = href.strip()
        if not href or href.startswith("#") or href.lower().startswith(_SKIP_SCHEMES):
            continue
        url = normalize(urljoin(base_url, href))
        if url is not None:
            links.append(url)
    return links
