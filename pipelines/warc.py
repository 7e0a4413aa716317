"""Raw pages as WARC (ISO 28500), the web archive format.

FetchPages writes one `response` record per HTTP response, gzip-compressed
per record (a standard .warc.gz that any WARC tool reads); ParsePages streams
them back one at a time with warcio, so memory does not grow with the crawl.
Bodies are stored decoded (no Content-Encoding), see pipelines.fetch.http;
the detected charset is stored in the record's X-Crawlops-Encoding field.

A response to a request that is not a plain GET (a link hook's POST, any
request with a body) is preceded by its `request` record (method, target,
headers, body; WARC-Concurrent-To names the response), so the archive says
which of several POSTs to one URL each response answers. A response the crawl
fetched as a sitemap or as robots.txt has X-Crawlops-Source (`sitemap`,
`robots`): ParsePages never takes it for an item page.

Records are built here, not by warcio's writer: `encode_response` is one
pass of bytes concatenation, two SHA-1s and one gzip member at
`GZIP_LEVEL`, all of which the fetching worker thread can do (hashlib and
zlib release the GIL), so the crawl's coordinator only writes bytes.
warcio's writer costs about 3x more CPU per page, most of it zlib at level 9
and per-header Python (measured in docs/architecture.md).
"""

from __future__ import annotations

import base64
import hashlib
import uuid
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.fetch.http import Request, Response

# The charset middleware's decision travels with the page (a WARC extension field).
ENCODING_HEADER = "X-Crawlops-Encoding"
# Why the crawl fetched it, when not as a page: "sitemap" or "robots" (Request.meta["source"]).
SOURCE_HEADER = "X-Crawlops-Source"

# zlib levels 1-3 use the fast deflate; on 20-30 KB shop pages level 3 costs
# what level 1 does and compresses 3 % better, level 9 (warcio's) costs twice
# as much for 8 % smaller files (docs/architecture.md).
GZIP_LEVEL = 3


def _sha1(data: bytes) -> bytes:
    return b"sha1:" + base64.b32encode(hashlib.sha1(data).digest())


def _http_head(response: Response) -> bytes:
    """The stored HTTP status line and headers, as warcio would write them."""
    lines = [f"HTTP/1.1 {response.status} {response.reason or 'Unknown'}"]
    lines.extend(f"{name}: {value}" for name, value in response.headers)
    text = "\r\n".join(lines) + "\r\n\r\n"
    try:
        return text.encode("ascii")
    except UnicodeEncodeError:  # rare: let warcio %-encode non-ASCII header values (RFC 8187)
        status = f"{response.status} {response.reason or 'Unknown'}"
        return StatusAndHeaders(status, list(response.headers), protocol="HTTP/1.1").to_ascii_bytes()


def _request_head(request: Request) -> bytes:
    """The HTTP request line and headers of `request`, as sent (bar the downloader's defaults)."""
    parts = urlsplit(request.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    headers = [("Host", parts.netloc.rpartition("@")[2]), *request.headers.items()]
    if request.body is not None and not any(k.lower() == "content-length" for k, _ in headers):
        headers.append(("Content-Length", str(len(request.body))))
    lines = [f"{request.method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in headers)]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


def _member(fields: list[bytes], head: bytes, body: bytes) -> bytes:
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, zlib.MAX_WBITS + 16)
    parts = [compressor.compress(b"\r\n".join(fields) + b"\r\n\r\n"), compressor.compress(head),
             compressor.compress(body), compressor.compress(b"\r\n\r\n"), compressor.flush()]
    return b"".join(parts)


def _encode_request(request: Request, url: bytes, warc_date: bytes, response_id: str) -> bytes:
    head = _request_head(request)
    body = request.body or b""
    return _member([
        b"WARC/1.0",
        b"WARC-Type: request",
        f"WARC-Record-ID: <urn:uuid:{uuid.uuid4()}>".encode("ascii"),
        b"WARC-Date: " + warc_date,
        b"WARC-Target-URI: " + url,
        f"WARC-Concurrent-To: {response_id}".encode("ascii"),
        b"WARC-Payload-Digest: " + _sha1(body),
        b"WARC-Block-Digest: " + _sha1(head + body),
        b"Content-Type: application/http; msgtype=request",
        b"Content-Length: " + str(len(head) + len(body)).encode("ascii"),
    ], head, body)


def encode_response(response: Response) -> bytes:
    """One complete gzip member holding the `response` record of `response` (two: its request's first,
    when that was not a plain GET).

    Thread-safe and free of shared state, so a worker thread can build it;
    the bytes go unchanged into the .warc.gz (members concatenate).
    """
    head = _http_head(response)
    body = response.body
    warc_date = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    record_id = f"<urn:uuid:{uuid.uuid4()}>"
    request = response.request if isinstance(response.request, Request) else None
    fields = [
        b"WARC/1.0",
        b"WARC-Type: response",
        f"WARC-Record-ID: {record_id}".encode("ascii"),
        b"WARC-Date: " + warc_date.encode("ascii"),
        b"WARC-Target-URI: " + response.url.encode("utf-8"),
        b"WARC-Payload-Digest: " + _sha1(body),
        b"WARC-Block-Digest: " + _sha1(head + body),
        b"Content-Type: application/http; msgtype=response",
        b"Content-Length: " + str(len(head) + len(body)).encode("ascii"),
    ]
    if response.encoding:
        fields.append(f"{ENCODING_HEADER}: {response.encoding}".encode())
    source = request.meta.get("source") if request is not None else None
    if source:
        fields.append(f"{SOURCE_HEADER}: {source}".encode("ascii"))
    member = _member(fields, head, body)
    if request is None or request.plain:
        return member
    return _encode_request(request, request.url.encode("utf-8"), warc_date.encode("ascii"), record_id) + member


class PageWriter:
    """Writes a .warc.gz: a warcinfo record, then one response record per `write`."""

    def __init__(self, stream: BinaryIO, info: dict[str, str]) -> None:
        self._stream = stream
        writer = WARCWriter(stream, gzip=True)
        writer.write_record(writer.create_warcinfo_record("pages.warc.gz", info))

    def write(self, response: Response, encoded: bytes | None = None) -> None:
        """Store `response`; `encoded` is its `encode_response` bytes when a worker built them already."""
        self._stream.write(encoded if encoded is not None else encode_response(response))


@dataclass
class StoredPage:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    encoding: str | None = None
    source: str | None = None  # "sitemap" or "robots": fetched for its links, not as a page

    def header(self, name: str) -> str | None:
        lname = name.lower()
        return next((v for k, v in self.headers if k.lower() == lname), None)


def read_pages(path: Path) -> Iterator[StoredPage]:
    """Every response record of a WARC file, in the order written."""
    with open(path, "rb") as stream:
        for record in ArchiveIterator(stream):
            if record.rec_type != "response" or record.http_headers is None:
                continue
            yield StoredPage(
                url=record.rec_headers.get_header("WARC-Target-URI"),
                status=int(record.http_headers.get_statuscode() or 0),
                headers=list(record.http_headers.headers),
                body=record.content_stream().read(),
                encoding=record.rec_headers.get_header(ENCODING_HEADER),
                source=record.rec_headers.get_header(SOURCE_HEADER),
            )
