"""Charset detection: which encoding a page's bytes really are.

Order: a byte-order mark; the Content-Type charset; the <meta> declaration;
UTF-8 if the bytes decode as UTF-8; a statistical guess (charset-normalizer);
cp1252. The result is `response.encoding`, stored with the page in the WARC so
parsing uses the same decision.

A Content-Type of the Latin-1 family (iso-8859-1, latin1, ascii, cp1252) is
often a server default that nobody meant, so for a body with non-ASCII bytes
it is checked before it is trusted: a body that is valid UTF-8 is UTF-8; a
<meta> charset that decodes the body strictly wins; then, only if the bytes
do not look like Latin text (accented letters alone between ASCII letters,
not in long runs of high bytes), a confident guess of an encoding of another
script (GBK, Big5, Shift_JIS, EUC-KR, cp1251...) that decodes the body
strictly. Otherwise the header stands. Every other header is trusted as it
is, so pages with a credible header cost no statistics.
"""

from __future__ import annotations

import codecs
import re
import unicodedata

from charset_normalizer import from_bytes
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom, resolve_encoding

from pipelines.fetch.http import Request, Response
from pipelines.fetch.middleware import DownloaderMiddleware

# w3lib resolves every member of the family to cp1252 (as browsers do); the rest are for <meta>.
_LATIN = frozenset({"cp1252", "latin1", "iso8859-1", "ascii", "windows-1252"})

# The cheap test that keeps statistics off genuine Latin pages. In French or German text a high
# byte is an accented letter inside an ASCII word, so runs of 3+ high bytes are rare; CJK text is
# almost all high bytes (pairs), and Cyrillic, Greek or Arabic words in a single-byte code page
# are whole runs of them. Shift_JIS and Big5 trail bytes can be ASCII, which breaks some runs:
# measured on product pages, 83-100% of their high bytes are in runs of 3+, Latin pages 0%.
_RUN_SHARE = 0.3
_MIN_RUN = 3
_HIGH_BYTES = bytes(0x80 if b >= 0x80 else 0x20 for b in range(256))

# A confident guess: charset-normalizer's "chaos" (share of the text that looks like mojibake).
_MAX_CHAOS = 0.1
# ... of an encoding whose non-ASCII letters are mostly not Latin letters: a Latin-2 or cp1250
# guess for a page the header calls Latin-1 is not worth overruling the header for.
_MIN_FOREIGN_SHARE = 0.8

_TAG = re.compile(rb"<[^>]*>")  # linear on any input; script text left in is still text
_SPACE = re.compile(rb"\s+")
_SAMPLE = 65536


def detect_encoding(content_type: str | None, body: bytes) -> str:
    """The encoding to decode `body` with (a Python codec name)."""
    bom, _ = read_bom(body)
    if bom:
        return bom
    plain_ascii = body.isascii()
    declared = http_content_type_encoding(content_type) if content_type else None
    if declared:
        if declared in _LATIN and not plain_ascii:
            return _behind_latin_header(body, declared)
        return declared
    meta = _meta_encoding(body)
    if meta:
        if meta in _LATIN and not plain_ascii and _decodes(body, "utf-8"):
            return "utf-8"
        return meta
    if plain_ascii or _decodes(body, "utf-8"):
        return "utf-8"
    guess = from_bytes(body[:_SAMPLE]).best()
    return guess.encoding if guess is not None else "cp1252"


def _behind_latin_header(body: bytes, declared: str) -> str:
    """What a body with non-ASCII bytes served as Latin-1/cp1252 really is."""
    if _decodes(body, "utf-8"):
        return "utf-8"
    meta = _meta_encoding(body)
    if meta and meta not in _LATIN and _decodes(body, meta):
        return meta
    if not _high_bytes_in_runs(body):
        return declared  # reads as Latin text: the header is credible
    return _foreign_guess(body) or declared


def _high_bytes_in_runs(body: bytes) -> bool:
    """Whether enough of the high bytes stand in runs to suspect another script."""
    runs = body.translate(_HIGH_BYTES).split()
    high = sum(len(run) for run in runs)
    in_runs = sum(len(run) for run in runs if len(run) >= _MIN_RUN)
    return high > 0 and in_runs >= _RUN_SHARE * high


def _foreign_guess(body: bytes) -> str | None:
    """A confident guess of a non-Latin encoding that decodes all of `body` strictly, or None."""
    # Guess from the text, not the markup: on a page that is mostly ASCII tags, the guess
    # from the raw bytes was measured to be wrong (cp1125 for a cp1251 page).
    text = _SPACE.sub(b" ", _TAG.sub(b" ", body[: _SAMPLE * 4]))[:_SAMPLE]
    best = from_bytes(text).best()
    if best is None or best.chaos > _MAX_CHAOS:
        return None
    encoding = codecs.lookup(best.encoding).name
    if encoding in _LATIN or not _decodes(body, encoding):
        return None
    if _foreign_share(str(best)) < _MIN_FOREIGN_SHARE:
        return None
    return encoding


def _foreign_share(text: str) -> float:
    """The share of non-ASCII letters that are not Latin letters (CJK, kana, Cyrillic...)."""
    letters = foreign = 0
    for char in text:
        if char.isascii() or not char.isalpha():
            continue
        letters += 1
        if not unicodedata.name(char, "LATIN").startswith("LATIN"):
            foreign += 1
    return foreign / letters if letters else 0.0


def _meta_encoding(body: bytes) -> str | None:
    meta = html_body_declared_encoding(body[:8192])
    return (resolve_encoding(meta) or meta) if meta else None


def _decodes(body: bytes, encoding: str) -> bool:
    try:
        body.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return False
    return True


class CharsetMiddleware(DownloaderMiddleware):
    name = "charset"

    def process_response(self, request: Request, response: Response) -> Request | Response:
        ctype = response.content_type
        if response.encoding is None and (ctype.startswith("text/") or "xml" in ctype or "html" in ctype
                                          or not ctype):
            response.encoding = detect_encoding(response.header("Content-Type"), response.body)
        return response
