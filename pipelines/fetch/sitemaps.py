"""Sitemaps (sitemaps.org): the URLs a sitemap or a sitemap index lists, and robots.txt's Sitemap: lines.

Pure functions over a response body. A body that starts with the gzip magic
is unpacked first, whatever its Content-Type says (servers send
`application/gzip`, `application/x-gzip` or `application/octet-stream` for
`sitemap.xml.gz`), to at most `max_bytes`, so a gzip bomb costs no more than
a large page. The XML is parsed with lxml with entities, DTDs and the network
off; a body that is not a sitemap yields nothing.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from lxml import etree
from protego import Protego

_GZIP_MAGIC = b"\x1f\x8b"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False,
                          recover=True, remove_comments=True)


class SitemapTooLarge(ValueError):
    """An unpacked sitemap is over the crawl's max_bytes."""


@dataclass(frozen=True)
class SitemapEntries:
    """What one sitemap lists: `sitemaps` (a sitemap index's children) and `pages` (a urlset's URLs)."""

    sitemaps: tuple[str, ...] = ()
    pages: tuple[str, ...] = ()


def unpack(body: bytes, max_bytes: int) -> bytes:
    """`body`, gunzipped when it is gzip data; SitemapTooLarge past `max_bytes` unpacked, zlib.error when broken."""
    if not body.startswith(_GZIP_MAGIC):
        return body
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    out = inflater.decompress(body, max_bytes + 1)
    if len(out) > max_bytes:
        raise SitemapTooLarge(f"the sitemap is over {max_bytes} bytes unpacked")
    if not inflater.eof:
        raise zlib.error("the gzip data is cut short")
    return out


def parse_sitemap(body: bytes, max_bytes: int = 10 * 1024 * 1024) -> SitemapEntries:
    """The <loc> URLs of a <sitemapindex> (as sitemaps) or a <urlset> (as pages), in document order."""
    data = unpack(body, max_bytes).strip()
    if not data:
        return SitemapEntries()
    try:
        root = etree.fromstring(data, parser=_PARSER)
    except (etree.XMLSyntaxError, ValueError):
        return SitemapEntries()
    if root is None:
        return SitemapEntries()
    kind = etree.QName(root).localname
    child = {"sitemapindex": "sitemap", "urlset": "url"}.get(kind)
    if child is None:
        return SitemapEntries()
    locs = []
    for entry in root:
        if not isinstance(entry.tag, str) or etree.QName(entry).localname != child:
            continue
        for loc in entry:
            if isinstance(loc.tag, str) and etree.QName(loc).localname == "loc" and loc.text and loc.text.strip():
                locs.append(loc.text.strip())
                break
    return SitemapEntries(sitemaps=tuple(locs)) if kind == "sitemapindex" else SitemapEntries(pages=tuple(locs))


def robots_sitemaps(body: bytes, encoding: str | None = None) -> list[str]:
    """The URLs of robots.txt's `Sitemap:` lines (Protego), in file order."""
    return list(Protego.parse(body.decode(encoding or "utf-8", "replace")).sitemaps)
