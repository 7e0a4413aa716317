"""Raw pages as WARC (ISO 28500), the web archive format, via warcio.

FetchPages writes one `response` record per HTTP response, gzip-compressed
per record (a standard .warc.gz that any WARC tool reads); ParsePages streams
them back one at a time, so memory does not grow with the crawl.
Bodies are stored decoded (no Content-Encoding), see pipelines.fetch.http;
the detected charset is stored in the record's X-Crawlops-Encoding field.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.fetch.http import Response

# The charset middleware's decision travels with the page (a WARC extension field).
ENCODING_HEADER = "X-Crawlops-Encoding"


class PageWriter:
    def __init__(self, stream: BinaryIO, info: dict[str, str]) -> None:
        self._writer = WARCWriter(stream, gzip=True)
        self._writer.write_record(self._writer.create_warcinfo_record("pages.warc.gz", info))

    def write(self, response: Response) -> None:
        status = f"{response.status} {response.reason or 'Unknown'}"
        http_headers = StatusAndHeaders(status, response.headers, protocol="HTTP/1.1")
        extra = {ENCODING_HEADER: response.encoding} if response.encoding else None
        record = self._writer.create_warc_record(
            response.url, "response", payload=io.BytesIO(response.body), http_headers=http_headers,
            warc_headers_dict=extra,
        )
        self._writer.write_record(record)


@dataclass
class StoredPage:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    encoding: str | None = None

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
            )
