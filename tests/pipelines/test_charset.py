"""Pages served as iso-8859-1 that are really GBK, Big5, Shift_JIS, EUC-KR or cp1251 are read right.

Servers send `charset=iso-8859-1` as a default nobody meant; a crawler that
believes it stores mojibake. The real chain (luigi CLI against luigid) crawls a
local site whose every page carries that header, and the stored items must
equal the text the pages were written from, while genuine Latin-1 pages
(French, German, with é, ü, €) stay Latin-1. detect_encoding's decisions,
including which pages may cost statistics, are tested on their own below.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import sqlalchemy as sa

from pipelines.fetch.middlewares import charset
from pipelines.fetch.middlewares.charset import detect_encoding
from tests.conftest import Luigid

LYING_HEADER = "text/html; charset=iso-8859-1"

# (codec the page is written in, title, description), product pages of realistic size.
PAGES = {
    "gbk": ("gbk", "不锈钢保温杯 五百毫升",
            "这是一款高品质的不锈钢保温杯，容量为五百毫升，可以保持饮品温度长达十二小时。产品采用食品级材料制造，"
            "安全无毒，适合办公室、户外旅行和日常使用。购买后七天内无理由退货，全国包邮。"),
    "gb18030": ("gb18030", "保温杯（经典款）",
                "保温杯采用双层真空结构，外壁不烫手；杯盖可拆洗，密封圈为食品级硅胶。颜色：黑色、白色、蓝色。"),
    "big5": ("big5", "不鏽鋼保溫杯 五百毫升",
             "這是一款高品質的不鏽鋼保溫杯，容量為五百毫升，可以保持飲品溫度長達十二小時。產品採用食品級材料製造，"
             "安全無毒，適合辦公室、戶外旅行和日常使用。購買後七天內無理由退貨。"),
    "shift_jis": ("shift_jis", "ステンレス製保温ボトル",
                  "これは高品質のステンレス製保温ボトルです。容量は五百ミリリットルで、飲み物の温度を最大十二時間"
                  "保つことができます。食品グレードの素材を使用しており、オフィスや旅行、毎日の生活に最適です。"),
    "euc_kr": ("euc_kr", "스테인리스 보온병",
               "이 제품은 고품질 스테인리스 보온병으로 용량은 오백 밀리리터입니다. 음료의 온도를 최대 열두 시간 동안 "
               "유지할 수 있습니다. 식품 등급 소재로 만들어져 사무실, 여행, 일상생활에 적합합니다."),
    "cp1251": ("cp1251", "Термос из нержавеющей стали",
               "Это высококачественный термос из нержавеющей стали объёмом пятьсот миллилитров. Он сохраняет "
               "температуру напитка до двенадцати часов. Изготовлен из пищевых материалов, подходит для офиса, "
               "путешествий и повседневного использования."),
}
LATIN_PAGES = {
    "french": ("cp1252", "Bouteille isotherme, qualité supérieure",
               "Cette bouteille isotherme de haute qualité conserve la température de vos boissons jusqu'à douze "
               "heures. Idéale au bureau, en randonnée ou à la maison. Prix : 24,90 € — livraison gratuite dès "
               "30 €. Garantie « satisfait ou remboursé » pendant trente jours."),
    "german": ("cp1252", "Thermoflasche aus Edelstahl, Größe 500 ml",
               "Diese hochwertige Isolierflasche hält Getränke bis zu zwölf Stunden warm. Ideal fürs Büro, für "
               "Ausflüge und den täglichen Gebrauch. Preis: 19,99 € inkl. MwSt. Müller & Söhne GmbH, München. "
               "Grüße aus Köln, süße Äpfel, Übergrößen."),
    "english": ("cp1252", "The bottle we’re proud of",
                "It’s the bottle we’re proud of: it doesn’t leak and it’s made to last. Customers say it’s their "
                "favourite, and that’s why we’ve kept it."),
}
ALL_PAGES = {**PAGES, **LATIN_PAGES}
META_LABEL = {"gbk": "gbk", "gb18030": "gb18030", "big5": "big5", "shift_jis": "shift_jis", "euc_kr": "euc-kr",
              "cp1251": "windows-1251", "cp1252": "iso-8859-1"}


def product_page(codec: str, title: str, text: str, meta: bool) -> bytes:
    """A product page of about 20 KB: mostly ASCII markup (navigation), some text."""
    head = f'<meta http-equiv="Content-Type" content="text/html; charset={META_LABEL[codec]}">' if meta else ""
    nav = "".join(f'<li class="nav-item"><a class="nav-link" href="/category/{i}/index.html">Category {i}</a></li>\n'
                  for i in range(150))
    html = (f"<!DOCTYPE html>\n<html><head>{head}<title>{title}</title>"
            f'<link rel="stylesheet" href="/static/site.css"></head>\n'
            f"<body><nav><ul>{nav}</ul></nav>\n<main><h1>{title}</h1>\n<p class=\"description\">{text}</p>\n"
            f"</main><footer>Copyright 2026</footer></body></html>\n")
    return html.encode(codec)


def page_path(name: str, meta: bool) -> str:
    return f"/product/{name}-{'meta' if meta else 'plain'}.html"


class LyingServer(BaseHTTPRequestHandler):
    """Every page, whatever its bytes, says iso-8859-1."""

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        routes = {page_path(name, meta): (name, meta) for name in ALL_PAGES for meta in (False, True)}
        if self.path == "/":
            body = "".join(f'<a href="{path}">{path}</a>\n' for path in routes).encode()
            return self._send(200, b"<html><body>" + body + b"</body></html>")
        if self.path in routes:
            name, meta = routes[self.path]
            return self._send(200, product_page(*ALL_PAGES[name], meta=meta))
        return self._send(404, b"not found")

    def _send(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", LYING_HEADER)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def lying_site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), LyingServer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()


@pytest.fixture(scope="module")
def crawled_items(luigid: Luigid, lying_site: str) -> dict[str, dict]:
    """{url path: stored fields} after one real tick over the lying site."""
    (luigid.spec_dir / "lying.toml").write_text(f"""
name = "lying"
start_urls = ["{lying_site}"]
allowed_domains = ["127.0.0.1"]
item_pages = '/product/'
key = "url"
[fetch]
concurrency = 4
obey_robots = false
[fields.title]
css = "h1::text"
required = true
[fields.description]
css = "p.description::text"
required = true
""")
    result = luigid.run("RunCrawl", "--crawl", "lying", "--at", "2026-11-21T0730")
    assert result.returncode == 0, result.stderr[-4000:]
    engine = sa.create_engine(luigid.items_url)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT url, data FROM crawl_items WHERE crawl = 'lying'")).all()
    engine.dispose()
    return {"/" + url.split("/", 3)[3]: json.loads(data) for url, data in rows}


@pytest.mark.parametrize("meta", [False, True], ids=["no-meta", "meta"])
@pytest.mark.parametrize("name", list(ALL_PAGES))
def test_the_stored_item_is_the_text_the_page_was_written_in(crawled_items: dict, name: str, meta: bool) -> None:
    _, title, text = ALL_PAGES[name]
    item = crawled_items[page_path(name, meta)]
    assert item["title"] == title
    assert item["description"] == text


# -- detect_encoding on its own ----------------------------------------------------------


@pytest.fixture
def statistics_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the calls of the statistical guess (the costly part)."""
    calls: list[int] = []
    real = charset.from_bytes

    def counting(data: bytes, *args: object, **kwargs: object) -> object:
        calls.append(len(data))
        return real(data, *args, **kwargs)

    monkeypatch.setattr(charset, "from_bytes", counting)
    return calls


@pytest.mark.parametrize("meta", [False, True], ids=["no-meta", "meta"])
@pytest.mark.parametrize("name", list(PAGES))
def test_a_lying_latin_header_gives_way_to_the_real_encoding(name: str, meta: bool,
                                                             statistics_calls: list[int]) -> None:
    codec, title, text = PAGES[name]
    body = product_page(codec, title, text, meta=meta)
    encoding = detect_encoding(LYING_HEADER, body)
    assert body.decode(encoding) == body.decode(codec)
    if meta:
        assert statistics_calls == []  # a <meta> that decodes the body is enough


@pytest.mark.parametrize("header", ["text/html; charset=iso-8859-1", "text/html; charset=latin1",
                                    "text/html; charset=windows-1252", "text/html; charset=US-ASCII"])
@pytest.mark.parametrize("name", list(LATIN_PAGES))
def test_a_genuine_latin_page_stays_latin_without_statistics(name: str, header: str,
                                                             statistics_calls: list[int]) -> None:
    codec, title, text = LATIN_PAGES[name]
    body = product_page(codec, title, text, meta=False)
    assert detect_encoding(header, body) == "cp1252"
    assert statistics_calls == []


@pytest.mark.parametrize(("header", "body", "expected"), [
    ("text/html; charset=iso-8859-1", b"<p>plain ascii</p>", "cp1252"),
    ("text/html; charset=utf-8", "<p>Café 中文</p>".encode(), "utf-8"),
    ("text/html; charset=iso-8859-1", "<p>Café ünïcode €</p>".encode(), "utf-8"),
    ("text/html; charset=gbk", "<p>中文</p>".encode("gbk"), "gb18030"),
    ("text/html; charset=Shift_JIS", "<p>日本語</p>".encode("shift_jis"), "cp932"),
])
def test_a_credible_header_costs_no_statistics(header: str, body: bytes, expected: str,
                                               statistics_calls: list[int]) -> None:
    assert detect_encoding(header, body) == expected
    assert statistics_calls == []


def test_a_latin_meta_does_not_hide_a_gbk_body() -> None:
    codec, title, text = PAGES["gbk"]
    body = product_page(codec, title, text, meta=False).replace(
        b"<head>", b'<head><meta charset="iso-8859-1">', 1)
    assert body.decode(detect_encoding(LYING_HEADER, body)) == body.decode("gbk")


def test_a_meta_that_does_not_decode_the_body_is_not_believed() -> None:
    codec, title, text = PAGES["cp1251"]
    body = product_page(codec, title, text, meta=False).replace(b"<head>", b'<head><meta charset="gbk">', 1)
    assert body.decode(detect_encoding(LYING_HEADER, body)) == body.decode("cp1251")
