"""Charset detection: which encoding a page's bytes really are.

Order: a byte-order mark; the Content-Type charset, unless it claims
Latin-1/ASCII/cp1252 for a body that is valid UTF-8 with non-ASCII bytes (a
common lie of misconfigured servers); the <meta> declaration; UTF-8 if the
bytes decode as UTF-8; a statistical guess (charset-normalizer); cp1252. The
result is `response.encoding`, stored with the page in the WARC so parsing
uses the same decision.
"""

from __future__ import annotations

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import DownloaderMiddleware

_LATIN = frozenset({"cp1252", "latin1", "iso8859-1", "ascii", "windows-1252"})


def _is_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def detect_encoding(content_type: str | None, body: bytes) -> str:
    """The encoding to decode `body` with (a Python codec name)."""
    bom, _ = read_bom(body)
    if bom:
        return bom
    plain_ascii = body.isascii()
    declared = http_content_type_encoding(content_type) if content_type else None
    if declared:
        if declared in _LATIN and not plain_ascii and _is_utf8(body):
            return "utf-8"
        return declared
    meta = html_body_declared_encoding(body[:8192])
    if meta:
        meta = resolve_encoding(meta) or meta
        if meta in _LATIN and not plain_ascii and _is_utf8(body):
            return "utf-8"
        return meta
    if plain_ascii or _is_utf8(body):
        return "utf-8"
    guess = from_bytes(body[:65536]).best()
    return guess.encoding if guess is not None else "cp1252"


class CharsetMiddleware(DownloaderMiddleware):
    name = "charset"

    def process_response(self, request: Request, response: Response) -> Request | Response:
        ctype = response.content_type
        if response.encoding is None and (ctype.startswith("text/") or "xml" in ctype or "html" in ctype
                                          or not ctype):
            response.encoding = detect_encoding(response.header("Content-Type"), response.body)
        return response
