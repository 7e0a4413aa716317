"""The WARC FetchPages writes is standard: warcio reads it back byte-exact and `warcio check` passes."""

from __future__ import annotations

import io
import subprocess
import sys
import tomllib
import urllib.request
from pathlib import Path

from warcio.archiveiterator import ArchiveIterator
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipelines.fetch.crawler import Crawler
from pipelines.fetch.http import Request, Response
from pipelines.spec import parse_spec
from pipelines.warc import ENCODING_HEADER, PageWriter, encode_response, read_pages
from tests.conftest import DemoSite

WARCIO = str(Path(sys.executable).with_name("warcio"))


def response(url: str, body: bytes, headers: list[tuple[str, str]] | None = None, status: int = 200,
             reason: str = "OK", encoding: str | None = "utf-8") -> Response:
    return Response(url, status, reason, headers if headers is not None else [("Content-Type", "text/html")],
                    body, Request(url), 0.01, encoding=encoding)


def warcio_check(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run([WARCIO, "check", "-v", str(path)], capture_output=True, text=True, timeout=60)


def test_records_read_back_byte_exact_with_their_headers_and_encoding(tmp_path: Path) -> None:
    written = [
        response("http://127.0.0.1/a", "<p>caf\u00e9</p>".encode()),
        # a body that looks like a record boundary, binary bytes, no charset decision
        response("http://127.0.0.1/b.bin", b"\r\n\r\nWARC/1.0\r\n\x00\xff" * 500, [("Content-Type", "image/png")],
                 encoding=None),
        response("http://127.0.0.1/empty", b"", [], status=204, reason=""),
        response("http://127.0.0.1/x?q=%C3%A9", b"<p>x</p>", [("Set-Cookie", "a=1"), ("Set-Cookie", "b=2")],
                 status=404, reason="Not Found", encoding="cp1252"),
    ]
    path = tmp_path / "pages.warc.gz"
    with open(path, "wb") as fh:
        writer = PageWriter(fh, {"crawl": "t"})
        for r in written:
            writer.write(r)
    checked = warcio_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("digest pass") == 1 + len(written)  # warcinfo and every response
    assert "fail" not in checked.stdout
    pages = list(read_pages(path))
    assert [(p.url, p.status, p.headers, p.body, p.encoding) for p in pages] == [
        (r.url, r.status, r.headers, r.body, r.encoding) for r in written
    ]


def test_the_http_block_is_the_one_warcio_writes_even_for_non_ascii_headers() -> None:
    r = response("http://127.0.0.1/a", b"<p>hi</p>",
                 [("Content-Type", "text/html"), ("Content-Disposition", "attachment; filename=\"caf\u00e9.html\""),
                  ("X-Name", "S\u00e3o Paulo")])
    ours = next(iter(ArchiveIterator(io.BytesIO(encode_response(r)))))
    buf = io.BytesIO()
    writer = WARCWriter(buf, gzip=True)
    writer.write_record(writer.create_warc_record(
        r.url, "response", payload=io.BytesIO(r.body),
        http_headers=StatusAndHeaders("200 OK", list(r.headers), protocol="HTTP/1.1"),
        warc_headers_dict={ENCODING_HEADER: "utf-8"}))
    buf.seek(0)
    theirs = next(iter(ArchiveIterator(buf)))
    assert ours.http_headers.headers == theirs.http_headers.headers
    for name in ("WARC-Payload-Digest", "WARC-Block-Digest", "Content-Length", ENCODING_HEADER):
        assert ours.rec_headers.get_header(name) == theirs.rec_headers.get_header(name), name
    assert ours.content_stream().read() == b"<p>hi</p>"


def test_a_crawl_warc_passes_warcio_check_and_holds_the_served_bytes(demo_site: DemoSite, tmp_path: Path) -> None:
    spec = parse_spec(tomllib.loads(f"""
start_urls = ["{demo_site.url}"]
allowed_domains = ["127.0.0.1"]
max_pages = 60
[fetch]
concurrency = 4
[fields.title]
css = "title::text"
"""), Path("t.toml"))
    path = tmp_path / "pages.warc.gz"
    with open(path, "wb") as fh:
        stats = Crawler(spec, PageWriter(fh, {"crawl": "t"}), io.StringIO()).run()
    assert stats["fetched"] >= 50
    checked = warcio_check(path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    pages = list(read_pages(path))
    assert len(pages) == sum(stats["responses_by_status"].values())
    for page in [p for p in pages if p.status == 200][:10]:
        with urllib.request.urlopen(page.url, timeout=10) as served:
            assert page.body == served.read(), page.url
